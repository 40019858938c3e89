//! Commands that start and look at runs: run, status, logs, export.

use crate::tasks::usage::{show_cpu, show_memory};
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use super::{CliError, CliResult, connect};
use crate::config::Config;
use crate::model::{CommandType, WorkflowState};
use crate::store::{StoreError, commands, definitions, instances, logs};

pub(super) fn parse_target(target: &str) -> Result<(&str, &str), CliError> {
    match target.split_once('/') {
        Some((p, w)) if !p.is_empty() && !w.is_empty() && !w.contains('/') => Ok((p, w)),
        _ => Err(CliError::usage(format!(
            "{target:?} is not PROJECT/WORKFLOW"
        ))),
    }
}

pub(super) fn parse_params(
    params: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>, CliError> {
    let mut map = serde_json::Map::new();
    for param in params {
        let (name, value) = param
            .split_once('=')
            .filter(|(n, _)| !n.trim().is_empty())
            .ok_or_else(|| CliError::usage(format!("--param {param:?} is not NAME=VALUE")))?;
        map.insert(
            name.trim().to_string(),
            serde_json::Value::String(value.to_string()),
        );
    }
    Ok(map)
}

pub async fn run(
    target: &str,
    params: &[String],
    wait: bool,
    flags: &super::overrides::RunFlags,
    start_nodes: &[String],
) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let map = parse_params(params)?;
    let mut options = flags.overrides()?.to_options();
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let current = definitions::find_workflow(&client, project, workflow)
        .await?
        .ok_or_else(|| CliError::usage(format!("workflow {project}/{workflow} does not exist")))?;
    if current.release == crate::model::Release::Offline {
        return Err(CliError::usage(format!(
            "workflow {project}/{workflow} is offline: new runs are refused until it is put back online (pgdag workflow online {project}/{workflow})"
        )));
    }
    if !start_nodes.is_empty() {
        // As REST checks them: every node must be a task of the current version.
        let (spec, _) = definitions::get_spec(&client, project, workflow, None)
            .await?
            .ok_or_else(|| {
                CliError::usage(format!("workflow {project}/{workflow} does not exist"))
            })?;
        if let Some(unknown) = start_nodes.iter().find(|n| spec.task(n).is_none()) {
            return Err(CliError::usage(format!(
                "--start-node {unknown} is not a task of {project}/{workflow}"
            )));
        }
        options.insert("start_nodes".into(), serde_json::json!(start_nodes));
    }
    let (_, id) = commands::insert(
        &client,
        &super::actor(),
        CommandType::Start,
        Some(project),
        Some(workflow),
        &serde_json::Value::Object(map),
        &serde_json::Value::Object(options),
        None,
    )
    .await?;
    println!("{id}");
    let _ = std::io::stdout().flush();
    if !wait {
        return Ok(0);
    }
    // Progress on stderr: one line per task state change, then the final state. Each poll
    // reads the instance's head, then its tasks in brief (id, name, state): the full rows
    // carry outputs and results, about 2 MiB for a 10,000-task instance. Read after the
    // head, the tasks are at least as new as the state it gave.
    let mut seen: HashMap<i64, String> = HashMap::new();
    loop {
        match instances::get_head(&client, id).await? {
            Some(detail) => {
                let tasks = match detail.tasks {
                    Some(_) => Vec::new(),
                    None => instances::task_briefs(&client, id).await?,
                };
                for task in &tasks {
                    if seen.get(&task.id) != Some(&task.state) {
                        eprintln!("  {:<24} {}", task.name, task.state);
                        seen.insert(task.id, task.state.clone());
                    }
                }
                let state: WorkflowState = detail
                    .state
                    .parse()
                    .map_err(|e: crate::model::ParseEnumError| CliError::runtime(e.to_string()))?;
                if state.is_final() {
                    eprintln!("instance {id}: {state}");
                    return Ok(if state == WorkflowState::Succeeded {
                        0
                    } else {
                        1
                    });
                }
            }
            None => {
                if let Some((state, error, _)) = commands::state_for_instance(&client, id).await?
                    && state == "failed"
                {
                    return Err(CliError::runtime(format!(
                        "the start command failed: {}",
                        error.unwrap_or_default()
                    )));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn status(id: i64, json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let Some(detail) = instances::get(&client, id).await? else {
        return match commands::state_for_instance(&client, id).await? {
            Some((state, error, _)) if state == "failed" => Err(CliError::runtime(format!(
                "instance {id} was never created: its command failed: {}",
                error.unwrap_or_default()
            ))),
            Some(_) => Err(CliError::runtime(format!(
                "instance {id} is not created yet (its command is pending)"
            ))),
            None => Err(CliError::usage(format!("instance {id} does not exist"))),
        };
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&detail).unwrap_or_default()
        );
        return Ok(0);
    }
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "instance {}  {}/{} v{}  {}",
        detail.id, detail.project, detail.workflow, detail.version, detail.state
    );
    println!(
        "started {}  ended {}",
        time(detail.started_at),
        time(detail.ended_at)
    );
    println!();
    println!(
        "{:<10} {:<24} {:<11} {:<15} {:>7} {:<24} {:<23} {:<23} {:>4} {:>9} {:>9} {:>10}",
        "TASK ID",
        "NAME",
        "TYPE",
        "STATE",
        "ATTEMPT",
        "HOST",
        "STARTED",
        "ENDED",
        "EXIT",
        "CPU USER",
        "CPU SYS",
        "MAX RSS"
    );
    for t in detail.tasks.iter().flatten() {
        println!(
            "{:<10} {:<24} {:<11} {:<15} {:>7} {:<24} {:<23} {:<23} {:>4} {:>9} {:>9} {:>10}",
            t.id,
            t.name,
            t.task_type,
            t.state,
            t.attempt,
            t.host.as_deref().unwrap_or("-"),
            time(t.started_at),
            time(t.ended_at),
            t.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            show_cpu(t.cpu_user_ms),
            show_cpu(t.cpu_system_ms),
            show_memory(t.max_rss_kib)
        );
    }
    for t in detail.tasks.iter().flatten() {
        if let Some(branch) = &t.branch {
            println!("{}: took [{}]", t.name, branch.join(", "));
        }
        if let Some(child) = t.child_instance_id {
            println!("{}: child instance {child}", t.name);
        }
        if let (Some(error), false) = (&t.error, t.state == "succeeded") {
            println!("{}: {error}", t.name);
        }
    }
    Ok(0)
}

pub async fn logs(task_instance_id: i64, follow: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let mut after = 0;
    let mut stdout = std::io::stdout();
    loop {
        let page = logs::read(&client, task_instance_id, after, logs::DEFAULT_PAGE_CHUNKS).await?;
        let _ = stdout.write_all(page.text.as_bytes());
        let _ = stdout.flush();
        let got_some = page.next_seq != after;
        after = page.next_seq;
        if page.finished || (!follow && !got_some) {
            return Ok(0);
        }
        if !got_some {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

pub async fn servers(json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let list = crate::store::servers::list(&client).await?;
    if json {
        println!("{}", serde_json::json!({ "servers": list }));
        return Ok(0);
    }
    println!(
        "{:<6} {:<28} {:<20} {:>8} {:<20} {:<7} {:>13} {:>7} {:<16}",
        "ID", "NAME", "HOST", "PID", "ROLES", "LEADER", "HEARTBEAT AGE", "RUNNING", "WORKER GROUPS"
    );
    for s in list {
        println!(
            "{:<6} {:<28} {:<20} {:>8} {:<20} {:<7} {:>10} ms {:>7} {:<16}",
            s.id,
            s.name,
            s.host,
            s.pid,
            s.roles.join(","),
            if s.leader { "yes" } else { "" },
            s.heartbeat_age_ms,
            s.running_tasks,
            s.worker_groups.join(",")
        );
    }
    Ok(0)
}

pub async fn schedule_switch(target: &str, on: bool) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let switched = crate::store::schedules::set_enabled(&tx, project, workflow, on).await?;
    let ids: Vec<i64> = switched.iter().map(|s| s.0).collect();
    crate::store::audit::record(
        &tx,
        &super::actor(),
        if on { "schedule.on" } else { "schedule.off" },
        Some(project),
        Some(workflow),
        serde_json::json!({ "schedule_ids": ids }),
    )
    .await?;
    tx.commit().await?;
    for (id, cron, tz) in switched {
        println!(
            "schedule {id} ({cron}, {tz}): {}",
            if on { "on" } else { "off" }
        );
    }
    Ok(0)
}

/// Preview fire times with the engine the firer uses.
pub fn cron_next(expr: &str, tz: &str, from: Option<&str>, count: usize) -> CliResult {
    let times = crate::cron::preview(expr, tz, from, count).map_err(CliError::usage)?;
    for time in times {
        println!("{time}");
    }
    Ok(0)
}

pub async fn ctl(action: &str, id: i64) -> CliResult {
    if let Some(kind) = CommandType::from_task_action(action) {
        return ctl_task(action, kind, id).await;
    }
    let kind = CommandType::from_action(action)
        .ok_or_else(|| CliError::usage(format!("unknown action {action}")))?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    if instances::get(&client, id).await?.is_none() {
        return Err(CliError::usage(format!("instance {id} does not exist")));
    }
    let command = commands::insert_control(&client, &super::actor(), kind, id).await?;
    println!("{action} instance {id}: command {command} queued");
    Ok(0)
}

/// `ctl retry-task|force-success|hold|release TASK_INSTANCE_ID`: a command about one task.
/// A retry, hold or release that cannot be carried out now is refused at once with the
/// reason (exit 1).
async fn ctl_task(action: &str, kind: CommandType, id: i64) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let (instance, command) = match kind {
        CommandType::RetryTask => {
            match commands::insert_retry_task(&client, &super::actor(), id).await {
                Err(StoreError::Conflict(why)) => return Err(CliError::runtime(why)),
                other => other?,
            }
        }
        CommandType::Hold | CommandType::Release => {
            let hold = kind == CommandType::Hold;
            match commands::insert_hold(&client, &super::actor(), id, hold).await {
                Err(StoreError::Conflict(why)) => return Err(CliError::runtime(why)),
                Err(StoreError::NotFound(why)) => return Err(CliError::usage(why)),
                other => other?,
            }
        }
        _ => {
            let (instance, _) = instances::task_owner(&client, id)
                .await?
                .ok_or_else(|| CliError::usage(format!("task instance {id} does not exist")))?;
            let command =
                commands::insert_task_command(&client, &super::actor(), kind, instance, id).await?;
            (instance, command)
        }
    };
    println!("{action} task instance {id} of instance {instance}: command {command} queued");
    Ok(0)
}

/// `workflow online|offline P/W`.
pub async fn set_release(target: &str, release: crate::model::Release) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let applied =
        definitions::set_release(&tx, &super::actor(), project, workflow, release).await?;
    tx.commit().await?;
    let how = match applied.outcome {
        definitions::ApplyOutcome::Unchanged => "already",
        _ => "now",
    };
    println!(
        "{project}/{workflow}: {how} {release} (version {})",
        applied.version
    );
    Ok(0)
}

fn print_deleted(d: &definitions::Deleted, with_history: bool) {
    let history = if with_history {
        format!("{} finished instances removed", d.instances)
    } else {
        "finished instances kept".to_string()
    };
    println!(
        "{}/{}: deleted ({} schedules removed, {history})",
        d.project, d.workflow, d.schedules
    );
    for dependent in &d.dependents {
        eprintln!(
            "warning: {dependent} depends on {}/{}: it will fail (the workflow does not exist)",
            d.project, d.workflow
        );
    }
}

/// A refusal (instances still running) exits 1 with the reason.
fn refused(e: StoreError) -> CliError {
    match e {
        StoreError::Conflict(why) => CliError::runtime(why),
        other => other.into(),
    }
}

/// `workflow delete P/W [--with-history]`.
pub async fn delete_workflow(target: &str, with_history: bool) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let deleted =
        definitions::delete_workflow(&tx, &super::actor(), project, workflow, with_history)
            .await
            .map_err(refused)?;
    tx.commit().await?;
    print_deleted(&deleted, with_history);
    Ok(0)
}

/// `project delete P [--with-history]`.
pub async fn delete_project(project: &str, with_history: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    let deleted = definitions::delete_project(&tx, &super::actor(), project, with_history)
        .await
        .map_err(refused)?;
    tx.commit().await?;
    for d in &deleted {
        print_deleted(d, with_history);
    }
    println!("project {project}: deleted");
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
pub async fn backfill(
    target: &str,
    span: crate::cron::backfill::Span,
    mode: &str,
    parallelism: i32,
    order: &str,
    stop_on_failure: bool,
    params: &[String],
    flags: &super::overrides::RunFlags,
) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let overrides = flags.overrides()?;
    let request = crate::cron::backfill::Request {
        span,
        serial: mode == "serial",
        parallelism,
        descending: order == "desc",
        stop_on_failure,
        params: serde_json::Value::Object(parse_params(params)?),
        options: overrides.to_options(),
    };
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let (id, instances) =
        crate::store::backfills::start(&tx, &super::actor(), project, workflow, &request).await?;
    tx.commit()
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    println!("backfill {id}");
    for instance in instances {
        println!("{instance}");
    }
    Ok(0)
}

pub async fn backfill_cancel(id: i64) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let mut client = store.client().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    crate::store::backfills::cancel(&tx, &super::actor(), id).await?;
    tx.commit()
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    println!("backfill {id}: cancelled");
    Ok(0)
}

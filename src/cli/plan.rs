//! `pgdag plan P/W [--date D] [--param k=v]`: the tasks of a workflow's current version in
//! the order they would run — layer by layer, a task after everything it depends on — with
//! their parameters resolved and their type's keys expanded by the code the master uses at
//! queue time ([`crate::tasks::expand::expanded_task`]). Reads only; writes nothing.
//!
//! What a plan cannot know is shown as written: upstream out params (`${rows}` set by
//! `setValue` in an earlier task) and the instance and task instance ids (0 here).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::inspect::{parse_params, parse_target};
use super::{CliError, CliResult, connect};
use crate::config::Config;
use crate::params::{self, ParamMap, RunContext};
use crate::spec::WorkflowSpec;
use crate::store::definitions;

/// Layer of each task: 0 without dependencies, else one more than its deepest dependency.
/// The spec was checked acyclic when it was applied; a cycle would leave tasks unplaced,
/// which is reported rather than looped on.
pub fn layers(spec: &WorkflowSpec) -> Result<Vec<usize>, String> {
    let n = spec.tasks.len();
    let mut layer: Vec<Option<usize>> = vec![None; n];
    let index = |name: &str| spec.tasks.iter().position(|t| t.name == name);
    for _ in 0..=n {
        let mut progressed = false;
        for (i, task) in spec.tasks.iter().enumerate() {
            if layer[i].is_some() {
                continue;
            }
            let mut deepest: Option<usize> = Some(0);
            let mut ready = true;
            for dep in &task.depends_on {
                match index(&dep.task).and_then(|d| layer[d]) {
                    Some(l) => deepest = deepest.map(|m| m.max(l + 1)),
                    None => ready = false,
                }
            }
            if ready {
                layer[i] = deepest;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    layer
        .into_iter()
        .enumerate()
        .map(|(i, l)| l.ok_or_else(|| format!("task {} is on a cycle", spec.tasks[i].name)))
        .collect()
}

/// `--date`: a day (midnight in the workflow's schedule zone, as a backfill date) or an
/// RFC 3339 time.
fn schedule_time(date: Option<&str>, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, CliError> {
    let Some(text) = date else {
        return Ok(Utc::now());
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        CliError::usage(format!(
            "--date {text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
        ))
    })?;
    day.and_hms_opt(0, 0, 0)
        .and_then(|m| crate::cron::resolve_local(&tz, m))
        .ok_or_else(|| CliError::usage(format!("--date {text}: no midnight in {tz}")))
}

pub async fn plan(target: &str, date: Option<&str>, params: &[String]) -> CliResult {
    let (project, workflow) = parse_target(target)?;
    let startup = params::json_to_params(&serde_json::Value::Object(parse_params(params)?));
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let (spec, version) = definitions::get_spec(&client, project, workflow, None)
        .await?
        .ok_or_else(|| CliError::usage(format!("workflow {project}/{workflow} does not exist")))?;
    drop(client);
    // The master's zone for built-ins: the schedule's, else UTC.
    let tz: chrono_tz::Tz = spec
        .schedule
        .as_ref()
        .and_then(|s| s.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let ctx = RunContext {
        schedule_time: schedule_time(date, tz)?,
        timezone: tz,
        project: project.to_string(),
        workflow: workflow.to_string(),
        workflow_instance_id: 0,
        task_instance_id: 0,
    };
    let layer = layers(&spec).map_err(CliError::runtime)?;
    let mut out = String::new();
    out.push_str(&format!(
        "plan of {project}/{workflow} version {version}, schedule time {} ({tz})\n",
        ctx.schedule_time.with_timezone(&tz).to_rfc3339()
    ));
    let deepest = layer.iter().copied().max().unwrap_or(0);
    for l in 0..=deepest {
        out.push_str(&format!("\nlayer {}\n", l + 1));
        for (i, task) in spec
            .tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| layer[*i] == l)
        {
            let resolved =
                params::resolve(&ctx, &spec.params, &startup, &ParamMap::new(), &task.params)
                    .map_err(|e| CliError::usage(format!("task {}: {e}", task.name)))?;
            let value = crate::tasks::expand::expanded_task(&spec, i, &resolved, &ctx, None)
                .map_err(|e| CliError::usage(format!("task {}: {e}", task.name)))?;
            render_task(&mut out, &spec, i, &resolved, &startup, &value);
        }
    }
    print!("{out}");
    Ok(0)
}

fn render_task(
    out: &mut String,
    spec: &WorkflowSpec,
    i: usize,
    resolved: &ParamMap,
    startup: &ParamMap,
    value: &serde_json::Value,
) {
    let task = &spec.tasks[i];
    let ty = task.task_type();
    out.push_str(&format!("  {} ({ty})", task.name));
    if !task.depends_on.is_empty() {
        let deps: Vec<String> = task
            .depends_on
            .iter()
            .map(|d| match d.on {
                crate::model::Condition::Success => d.task.clone(),
                other => format!("{} on {other}", d.task),
            })
            .collect();
        out.push_str(&format!(" after {}", deps.join(", ")));
    }
    if !task.run {
        out.push_str(" [run: false: skipped, its successors run]");
    }
    out.push('\n');
    // The parameters the workflow, the start and the task declare (not every built-in).
    let declared: BTreeSet<&String> = spec
        .params
        .keys()
        .chain(startup.keys())
        .chain(task.params.keys())
        .collect();
    if !declared.is_empty() {
        let shown: Vec<String> = declared
            .iter()
            .map(|k| format!("{k}={}", resolved.get(*k).map(String::as_str).unwrap_or("")))
            .collect();
        out.push_str(&format!("    params: {}\n", shown.join(" ")));
    }
    let mut keys: Vec<&str> = crate::tasks::plugin(ty).expanded_keys().to_vec();
    keys.push("env");
    for key in keys {
        let Some(field) = value.get(key) else {
            continue;
        };
        match field {
            serde_json::Value::String(text) if text.contains('\n') => {
                out.push_str(&format!("    {key}:\n"));
                for line in text.trim_end_matches('\n').lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
            serde_json::Value::String(text) => out.push_str(&format!("    {key}: {text}\n")),
            other => out.push_str(&format!("    {key}: {other}\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_runs_one_layer_after_its_deepest_dependency() {
        let docs = crate::spec::parse_documents(
            "f.yaml",
            "project: p\nname: w\ntasks:\n  - {name: d, type: empty, depends_on: [a, c]}\n  - {name: a, type: empty}\n  - {name: b, type: empty}\n  - {name: c, type: empty, depends_on: [b, {task: a, on: failure}]}\n",
        )
        .unwrap();
        let crate::spec::Document::Workflow(spec) = &docs[0] else {
            panic!("not a workflow")
        };
        assert_eq!(layers(spec).unwrap(), vec![2, 0, 0, 1]);
    }
}

//! Listings for people and scripts: `pgdag projects`, `pgdag workflows`, `pgdag instances`.
//! A table by default; `--json` prints exactly the body of the matching REST list endpoint
//! (the same serialisation, [`crate::api::rest::listing`]). The CLI acts as the operator,
//! so it sees every project.

use super::{CliError, CliResult, connect};
use crate::api::rest::listing;
use crate::api::rest::query::{DEFAULT_PAGE, MAX_LIMIT};
use crate::config::Config;
use crate::store::{definitions, instances};

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(
        || "-".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// `pgdag projects [--json]`.
pub async fn projects(json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let list = definitions::list_projects(&client, None).await?;
    if json {
        print_json(&listing::projects(&list));
        return Ok(0);
    }
    println!(
        "{:<24} {:>9} {:<19} DESCRIPTION",
        "PROJECT", "WORKFLOWS", "CREATED"
    );
    for p in &list {
        println!(
            "{:<24} {:>9} {:<19} {}",
            p.name,
            p.workflows,
            time(Some(p.created_at)),
            p.description
        );
    }
    Ok(0)
}

/// `pgdag workflows [--project P] [--json]`: every project's workflows without `--project`
/// (the JSON is then one `workflows` list over all of them, each item naming its project).
pub async fn workflows(project: Option<&str>, json: bool) -> CliResult {
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let projects: Vec<String> = match project {
        Some(p) => {
            if !definitions::project_exists(&client, p).await? {
                return Err(CliError::usage(format!("project {p} does not exist")));
            }
            vec![p.to_string()]
        }
        None => definitions::list_projects(&client, None)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect(),
    };
    let mut list = Vec::new();
    for p in &projects {
        list.extend(definitions::list_workflows(&client, p).await?);
    }
    if json {
        print_json(&listing::workflows(&list));
        return Ok(0);
    }
    println!(
        "{:<20} {:<28} {:>7} {:<8} {:<40} UPDATED",
        "PROJECT", "WORKFLOW", "VERSION", "RELEASE", "SCHEDULE"
    );
    for w in &list {
        let schedule = match &w.schedule {
            None => "-".to_string(),
            Some(s) => {
                let more = if w.schedules > 1 {
                    format!(" (+{})", w.schedules - 1)
                } else {
                    String::new()
                };
                format!(
                    "{} {} {}{more}",
                    s.cron,
                    s.timezone,
                    if s.enabled { "on" } else { "off" }
                )
            }
        };
        println!(
            "{:<20} {:<28} {:>7} {:<8} {:<40} {}",
            w.project,
            w.name,
            w.version,
            w.release,
            schedule,
            time(Some(w.updated_at))
        );
    }
    Ok(0)
}

/// `pgdag instances [--project P] [--workflow W] [--state S] [--limit N] [--json]`, newest
/// first, with the REST endpoint's filters and bounds.
pub async fn instances(
    project: Option<&str>,
    workflow: Option<&str>,
    state: Option<&str>,
    limit: Option<i64>,
    json: bool,
) -> CliResult {
    if let Some(state) = state {
        state
            .parse::<crate::model::WorkflowState>()
            .map_err(|e| CliError::usage(format!("--state: {e}")))?;
    }
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(CliError::usage(format!(
            "--limit must be a number from 1 to {MAX_LIMIT}"
        )));
    }
    let config = Config::from_env()?;
    let store = connect(&config)?;
    let client = store.client().await?;
    let filter = instances::InstanceFilter {
        project: project.map(Into::into),
        workflow: workflow.map(Into::into),
        state: state.map(Into::into),
        limit,
        ..Default::default()
    };
    let list = instances::list(&client, &filter).await?;
    if json {
        print_json(&listing::instances(&list));
        return Ok(0);
    }
    println!(
        "{:<10} {:<20} {:<28} {:>7} {:<10} {:<19} {:<19} {:<19}",
        "ID", "PROJECT", "WORKFLOW", "VERSION", "STATE", "SCHEDULED", "STARTED", "ENDED"
    );
    for i in &list {
        println!(
            "{:<10} {:<20} {:<28} {:>7} {:<10} {:<19} {:<19} {:<19}",
            i.id,
            i.project,
            i.workflow,
            i.version,
            i.state,
            time(i.schedule_time),
            time(i.started_at),
            time(i.ended_at)
        );
    }
    Ok(0)
}

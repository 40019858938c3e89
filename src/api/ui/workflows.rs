//! A project's workflows; a workflow's DAG, runs, versions (with diffs and switching), its
//! YAML with an editor, and the run dialog.

use std::collections::BTreeMap;

use super::{Ctx, redirect, render, workflow_href};
use crate::api::error::ApiError;
use crate::api::pages::{
    self, DiffHunk, DiffPage, DiffRow, EditForm, EditorLine, ProjectPage, RunDot, RunForm,
    TaskRowSpec, VersionRow, WorkflowPage, WorkflowRow,
};
use crate::api::{Reply, all_values, percent_encode, rest};
use crate::spec::WorkflowSpec;
use crate::store::definitions;
use crate::store::instances::{self, InstanceFilter};
use crate::store::members::Access;
use crate::view::{diff, svg};

/// Runs shown as dots per workflow on a project page.
const DOTS: i64 = 10;

pub(super) async fn project(ctx: &Ctx<'_>, project: &str) -> Result<Reply, ApiError> {
    let client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Read)
        .await?;
    let can_write = ctx.who.can_write(&client, project).await?;
    let description = definitions::list_projects(&client, None)
        .await?
        .into_iter()
        .find(|p| p.name == project)
        .map(|p| p.description)
        .unwrap_or_default();
    let workflows = definitions::overview(&client, project, DOTS).await?;
    render(&ProjectPage {
        nav: ctx.nav("projects"),
        project: project.to_string(),
        description,
        can_write,
        workflows: workflows
            .into_iter()
            .map(|w| WorkflowRow {
                href: workflow_href(project, &w.name),
                name: w.name,
                version: w.version,
                description: w.description,
                release: w.release,
                schedule: w
                    .cron
                    .map(|c| format!("{c} ({})", w.timezone.unwrap_or_default())),
                schedule_on: w.schedule_enabled.unwrap_or(false),
                next_fire: if w.schedule_enabled == Some(true) {
                    pages::time(w.next_fire_at)
                } else {
                    String::new()
                },
                runs: w
                    .runs
                    .into_iter()
                    .map(|(id, state)| RunDot { id, state })
                    .collect(),
            })
            .collect(),
    })
}

/// The workflow page, at the version `?version=` names (the current one by default), with
/// the run dialog and the editor filled as given.
async fn workflow_page(
    ctx: &Ctx<'_>,
    project: &str,
    workflow: &str,
    run: RunForm,
    edit: Option<EditForm>,
    open: &'static str,
) -> Result<WorkflowPage, ApiError> {
    let client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Read)
        .await?;
    let can_write = ctx.who.can_write(&client, project).await?;
    let wanted = match ctx.request.query_map().get("version") {
        None => None,
        Some(v) => Some(
            v.parse::<i32>()
                .map_err(|_| ApiError::bad_request(format!("version {v:?} is not a number")))?,
        ),
    };
    let (current_spec, current_version) = definitions::get_spec(&client, project, workflow, None)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
        })?;
    let (spec, version) = match wanted {
        Some(v) if v != current_version => {
            definitions::get_spec(&client, project, workflow, Some(v))
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!("workflow {project}/{workflow} has no version {v}"))
                })?
        }
        _ => (current_spec.clone(), current_version),
    };
    let versions = definitions::list_versions(&client, project, workflow).await?;
    let runs = instances::list(
        &client,
        &InstanceFilter {
            project: Some(project.to_string()),
            workflow: Some(workflow.to_string()),
            limit: 10,
            ..Default::default()
        },
    )
    .await?;
    let now = chrono::Utc::now();
    let yaml = crate::spec::to_yaml(&spec);
    let edit = edit.unwrap_or_else(|| EditForm {
        text: crate::spec::to_yaml(&current_spec),
        ..Default::default()
    });
    Ok(WorkflowPage {
        nav: ctx.nav("projects"),
        project: project.to_string(),
        project_href: format!("/projects/{}", percent_encode(project)),
        name: workflow.to_string(),
        base: workflow_href(project, workflow),
        description: spec.description.clone(),
        release: spec.release.as_str().to_string(),
        online: current_spec.release == crate::model::Release::Online,
        version,
        current_version,
        schedule: spec.schedule.as_ref().map(|s| {
            format!(
                "{} ({}){}",
                s.cron,
                s.timezone,
                if s.enabled { "" } else { ", off" }
            )
        }),
        params: spec
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        tasks: spec
            .tasks
            .iter()
            .map(|t| TaskRowSpec {
                name: t.name.clone(),
                task_type: t.task_type().as_str().to_string(),
                depends_on: t
                    .depends_on
                    .iter()
                    .map(|d| match d.on.as_str() {
                        "success" => d.task.clone(),
                        on => format!("{} ({on})", d.task),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        dag_svg: dag_of_spec(&spec),
        versions: versions
            .iter()
            .map(|v| VersionRow {
                version: v.version,
                created_at: pages::time(Some(v.created_at)),
                created_by: v.created_by.clone(),
                current: v.current,
                shown: v.version == version,
            })
            .collect(),
        yaml,
        runs: runs
            .iter()
            .map(|d| super::home::instance_row(d, now))
            .collect(),
        can_write,
        own_priority: spec.priority.as_str().to_string(),
        own_failure_strategy: spec.failure_strategy.as_str().to_string(),
        own_worker_group: spec.worker_group.clone(),
        priorities: pages::PRIORITIES,
        failure_strategies: pages::FAILURE_STRATEGIES,
        run,
        edit,
        open,
    })
}

/// The DAG of a definition (no states: every node is `state-none`).
fn dag_of_spec(spec: &WorkflowSpec) -> String {
    let nodes: Vec<svg::DagNode> = spec
        .tasks
        .iter()
        .map(|t| svg::DagNode {
            name: t.name.clone(),
            task_type: t.task_type().as_str().to_string(),
            state: None,
            href: None,
            title: None,
        })
        .collect();
    svg::dag_svg(&nodes, &dag_edges(spec))
}

/// The edges of a definition's DAG, between task indexes (the order of `spec.tasks`).
pub(super) fn dag_edges(spec: &WorkflowSpec) -> Vec<svg::DagEdge> {
    let index: BTreeMap<&str, usize> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    spec.tasks
        .iter()
        .enumerate()
        .flat_map(|(to, t)| {
            let index = &index;
            t.depends_on.iter().filter_map(move |d| {
                Some(svg::DagEdge {
                    from: *index.get(d.task.as_str())?,
                    to,
                    condition: d.on.as_str().to_string(),
                    delay: d.delay.map(|d| d.to_string()),
                })
            })
        })
        .collect()
}

pub(super) async fn workflow(
    ctx: &Ctx<'_>,
    project: &str,
    workflow: &str,
) -> Result<Reply, ApiError> {
    let run = RunForm {
        parallelism: "1".into(),
        ..Default::default()
    };
    let page = workflow_page(ctx, project, workflow, run, None, "").await?;
    render(&page)
}

/// The run dialog: a run now (optionally from chosen nodes) or a backfill. Success goes to
/// the new instance (or to the backfill's instances); a mistake shows the dialog again with
/// the reason and what was typed.
pub(super) async fn run(ctx: &Ctx<'_>, project: &str, workflow: &str) -> Result<Reply, ApiError> {
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    let body = String::from_utf8_lossy(&ctx.request.body).into_owned();
    let form = ctx.request.form();
    let field = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut run = RunForm {
        params: form.get("params").cloned().unwrap_or_default(),
        start_nodes: all_values(&body, "start_node"),
        backfill: form.contains_key("backfill"),
        from: field("from"),
        to: field("to"),
        dates: field("dates"),
        mode: field("mode"),
        parallelism: field("parallelism"),
        order: field("order"),
        stop_on_failure: form.contains_key("stop_on_failure"),
        priority: field("priority"),
        failure_strategy: field("failure_strategy"),
        worker_group: field("worker_group"),
        error: None,
    };
    let outcome = match run_body(&run) {
        Ok(body) => rest::start(&mut client, ctx.who, project, workflow, body).await,
        Err(e) => Err(e),
    };
    drop(client);
    match outcome {
        Ok((ids, None)) if ids.len() == 1 => Ok(redirect(&format!("/instances/{}", ids[0]))),
        Ok(_) => Ok(redirect(&format!(
            "/instances?project={}&workflow={}",
            percent_encode(project),
            percent_encode(workflow)
        ))),
        Err(e) if e.status.is_client_error() && e.status.as_u16() != 403 => {
            run.error = Some(e.message);
            let page = workflow_page(ctx, project, workflow, run, None, "run").await?;
            let mut reply = render(&page)?;
            *reply.status_mut() = e.status;
            Ok(reply)
        }
        Err(e) => Err(e),
    }
}

/// The dialog's fields as the REST body of `POST .../runs`.
fn run_body(run: &RunForm) -> Result<rest::RunBody, ApiError> {
    let mut params = serde_json::Map::new();
    for (n, line) in run.params.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            ApiError::unprocessable(format!(
                "startup parameters, line {}: {line:?} is not name=value",
                n + 1
            ))
        })?;
        let k = k.trim();
        if k.is_empty() {
            return Err(ApiError::unprocessable(format!(
                "startup parameters, line {}: the name is empty",
                n + 1
            )));
        }
        params.insert(k.to_string(), v.trim().into());
    }
    let start_nodes = (!run.start_nodes.is_empty()).then(|| run.start_nodes.clone());
    let backfill = if run.backfill {
        let mut b = serde_json::Map::new();
        if run.dates.is_empty() {
            if run.from.is_empty() || run.to.is_empty() {
                return Err(ApiError::unprocessable(
                    "backfill: give From and To, or a list of dates",
                ));
            }
            b.insert("from".into(), run.from.clone().into());
            b.insert("to".into(), run.to.clone().into());
        } else {
            if !run.from.is_empty() || !run.to.is_empty() {
                return Err(ApiError::unprocessable(
                    "backfill: give From and To, or a list of dates, not both",
                ));
            }
            let dates: Vec<serde_json::Value> = run
                .dates
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.to_string().into())
                .collect();
            b.insert("dates".into(), dates.into());
        }
        if !run.mode.is_empty() {
            b.insert("mode".into(), run.mode.clone().into());
        }
        if !run.parallelism.is_empty() {
            let p: i64 = run.parallelism.parse().map_err(|_| {
                ApiError::unprocessable(format!(
                    "backfill: parallelism {:?} is not a number",
                    run.parallelism
                ))
            })?;
            b.insert("parallelism".into(), p.into());
        }
        if !run.order.is_empty() {
            b.insert("order".into(), run.order.clone().into());
        }
        b.insert("stop_on_failure".into(), run.stop_on_failure.into());
        Some(serde_json::Value::Object(b))
    } else {
        None
    };
    let chosen = |v: &str| (!v.is_empty()).then(|| v.to_string());
    Ok(rest::RunBody {
        params,
        start_nodes,
        backfill,
        priority: chosen(&run.priority),
        failure_strategy: chosen(&run.failure_strategy),
        worker_group: chosen(&run.worker_group),
    })
}

/// Save edited YAML as a new version. It must be one workflow document of this project and
/// name; errors are shown next to their lines and nothing is written.
pub(super) async fn edit(ctx: &Ctx<'_>, project: &str, workflow: &str) -> Result<Reply, ApiError> {
    {
        let client = ctx.client().await?;
        ctx.who
            .require_project(&client, project, Access::Write)
            .await?;
    }
    let form = ctx.request.form();
    let text = form
        .get("yaml")
        .cloned()
        .unwrap_or_default()
        .replace("\r\n", "\n");
    let file = format!("{project}/{workflow}.yaml");
    let mut errors: Vec<(usize, String)> = Vec::new();
    match crate::apply::check_documents(&file, &text) {
        Err(list) => errors.extend(list.into_iter().map(|e| (e.line, e.to_string()))),
        Ok(checked) => {
            if checked.single_kind() != Some("workflow") {
                errors.push((
                    0,
                    "the editor takes exactly one workflow document (no `---`, no other kinds)"
                        .into(),
                ));
            } else {
                let spec = &checked.workflows[0];
                if spec.project != project || spec.name != workflow {
                    errors.push((
                        spec.source.pos("name").line,
                        format!(
                            "this page edits {project}/{workflow}, but the YAML names {}/{}",
                            spec.project, spec.name
                        ),
                    ));
                } else {
                    let mut client = ctx.client().await?;
                    // A reference the editor may not touch is shown with the YAML kept (the
                    // message is the same whether or not the other workflow exists).
                    match crate::api::references::require(ctx.who, &client, &checked.workflows)
                        .await
                    {
                        Err(e) if e.status == warp::http::StatusCode::FORBIDDEN => {
                            errors.push((0, e.message));
                        }
                        Err(e) => return Err(e),
                        Ok(()) => {
                            let applied = definitions::apply_all(
                                &mut client,
                                &ctx.who.actor(),
                                &checked.workflows,
                            )
                            .await?;
                            let message = match applied.first() {
                                Some(a) if a.outcome == definitions::ApplyOutcome::Unchanged => {
                                    format!("Nothing changed: still version {}.", a.version)
                                }
                                Some(a) => format!("Saved as version {}.", a.version),
                                None => "Saved.".into(),
                            };
                            drop(client);
                            let edit = EditForm {
                                saved: Some(message),
                                text: String::new(),
                                ..Default::default()
                            };
                            let mut page = workflow_page(
                                ctx,
                                project,
                                workflow,
                                RunForm::default(),
                                Some(edit),
                                "",
                            )
                            .await?;
                            page.edit.text = page.yaml.clone();
                            return render(&page);
                        }
                    }
                }
            }
        }
    }
    let edit = editor_with_errors(text, errors);
    let page = workflow_page(
        ctx,
        project,
        workflow,
        RunForm::default(),
        Some(edit),
        "edit",
    )
    .await?;
    let mut reply = render(&page)?;
    *reply.status_mut() = warp::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(reply)
}

/// Lines that carry errors, with two lines of context around each; errors without a line
/// (or past the end) are listed on their own.
fn editor_with_errors(text: String, errors: Vec<(usize, String)>) -> EditForm {
    let lines: Vec<&str> = text.lines().collect();
    let mut by_line: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut general = Vec::new();
    for (line, message) in errors {
        if line >= 1 && line <= lines.len() {
            by_line.entry(line).or_default().push(message);
        } else {
            general.push(message);
        }
    }
    let mut shown = std::collections::BTreeSet::new();
    for &line in by_line.keys() {
        for n in line.saturating_sub(2).max(1)..=(line + 2).min(lines.len()) {
            shown.insert(n);
        }
    }
    let listing = shown
        .into_iter()
        .map(|n| EditorLine {
            number: n,
            text: lines[n - 1].to_string(),
            errors: by_line.get(&n).cloned().unwrap_or_default(),
        })
        .collect();
    let mut all: Vec<String> = general;
    all.extend(by_line.values().flatten().cloned());
    EditForm {
        text,
        errors: all,
        lines: listing,
        saved: None,
    }
}

pub(super) async fn switch(
    ctx: &Ctx<'_>,
    project: &str,
    workflow: &str,
    version: &str,
) -> Result<Reply, ApiError> {
    let number: i32 = version
        .parse()
        .map_err(|_| ApiError::bad_request(format!("version {version:?} is not a number")))?;
    let mut client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Write)
        .await?;
    if let Some((spec, _)) = definitions::get_spec(&client, project, workflow, Some(number)).await?
    {
        crate::api::references::require(ctx.who, &client, &[spec]).await?;
    }
    let tx = client.transaction().await?;
    definitions::switch_version(&tx, &ctx.who.actor(), project, workflow, number).await?;
    tx.commit().await?;
    Ok(redirect(&format!(
        "{}#versions",
        workflow_href(project, workflow)
    )))
}

/// Lines of context around each change.
const DIFF_CONTEXT: usize = 3;

pub(super) async fn diff(ctx: &Ctx<'_>, project: &str, workflow: &str) -> Result<Reply, ApiError> {
    let client = ctx.client().await?;
    ctx.who
        .require_project(&client, project, Access::Read)
        .await?;
    let q = ctx.request.query_map();
    let number = |key: &str| -> Result<i32, ApiError> {
        q.get(key)
            .ok_or_else(|| ApiError::bad_request(format!("{key} (a version) is required")))?
            .parse()
            .map_err(|_| ApiError::bad_request(format!("{key} is not a version number")))
    };
    let (from, to) = (number("from")?, number("to")?);
    let load = |v: i32| {
        let client = &client;
        async move {
            definitions::get_spec(client, project, workflow, Some(v))
                .await?
                .map(|(spec, _)| crate::spec::to_yaml(&spec))
                .ok_or_else(|| {
                    ApiError::not_found(format!("workflow {project}/{workflow} has no version {v}"))
                })
        }
    };
    let (old, new) = (load(from).await?, load(to).await?);
    let lines = diff::line_diff(&old, &new);
    let added = lines
        .iter()
        .filter(|l| l.kind == diff::DiffKind::Added)
        .count();
    let removed = lines
        .iter()
        .filter(|l| l.kind == diff::DiffKind::Removed)
        .count();
    let hunks = diff::hunks(&lines, DIFF_CONTEXT)
        .into_iter()
        .map(|h| DiffHunk {
            header: h.header(),
            rows: h
                .lines
                .iter()
                .map(|l| DiffRow {
                    kind: match l.kind {
                        diff::DiffKind::Same => "same",
                        diff::DiffKind::Added => "added",
                        diff::DiffKind::Removed => "removed",
                    },
                    old_no: l.old_no.map(|n| n.to_string()).unwrap_or_default(),
                    new_no: l.new_no.map(|n| n.to_string()).unwrap_or_default(),
                    text: l.text.clone(),
                })
                .collect(),
        })
        .collect();
    let versions = definitions::list_versions(&client, project, workflow)
        .await?
        .into_iter()
        .map(|v| v.version)
        .collect();
    render(&DiffPage {
        nav: ctx.nav("projects"),
        project: project.to_string(),
        name: workflow.to_string(),
        base: workflow_href(project, workflow),
        from,
        to,
        versions,
        hunks,
        added,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_parameters_are_name_value_lines() {
        let run = RunForm {
            params: "who = world\n\n# a comment\nurl=http://x/?a=b\n".into(),
            ..Default::default()
        };
        let body = run_body(&run).unwrap();
        assert_eq!(body.params["who"], "world");
        assert_eq!(body.params["url"], "http://x/?a=b");
        assert!(body.start_nodes.is_none() && body.backfill.is_none());
        let bad = RunForm {
            params: "ok=1\nnot a pair".into(),
            ..Default::default()
        };
        let e = run_body(&bad).unwrap_err();
        assert!(e.message.contains("line 2"), "{}", e.message);
    }

    #[test]
    fn a_backfill_needs_a_range_or_dates_but_not_both() {
        let mut run = RunForm {
            backfill: true,
            ..Default::default()
        };
        assert!(run_body(&run).is_err());
        run.from = "2026-01-01".into();
        run.to = "2026-01-03".into();
        run.mode = "parallel".into();
        run.parallelism = "2".into();
        let b = run_body(&run).unwrap().backfill.unwrap();
        assert_eq!(b["from"], "2026-01-01");
        assert_eq!(b["parallelism"], 2);
        run.dates = "2026-02-01, 2026-02-03".into();
        assert!(run_body(&run).is_err());
        run.from.clear();
        run.to.clear();
        let b = run_body(&run).unwrap().backfill.unwrap();
        assert_eq!(b["dates"], serde_json::json!(["2026-02-01", "2026-02-03"]));
    }

    #[test]
    fn execution_options_left_empty_mean_the_workflows_own() {
        let body = run_body(&RunForm::default()).unwrap();
        assert!(body.priority.is_none() && body.failure_strategy.is_none());
        assert!(body.worker_group.is_none());
        let body = run_body(&RunForm {
            priority: "high".into(),
            failure_strategy: "end".into(),
            worker_group: "gpu".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(body.priority.as_deref(), Some("high"));
        assert_eq!(body.failure_strategy.as_deref(), Some("end"));
        assert_eq!(body.worker_group.as_deref(), Some("gpu"));
    }

    #[test]
    fn editor_errors_sit_at_their_lines_with_context() {
        let text = (1..=10)
            .map(|n| format!("line{n}"))
            .collect::<Vec<_>>()
            .join("\n");
        let edit = editor_with_errors(text, vec![(5, "bad".into()), (0, "general".into())]);
        let numbers: Vec<usize> = edit.lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, vec![3, 4, 5, 6, 7]);
        assert_eq!(edit.lines[2].errors, vec!["bad".to_string()]);
        assert_eq!(edit.errors, vec!["general".to_string(), "bad".to_string()]);
    }
}

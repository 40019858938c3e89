//! Workflow and task definitions with their version history.
//!
//! Codes are derived from names (`project/workflow`, `project/workflow/task`), so they are
//! stable across versions and across export and re-import into another database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::db::{Conn, query};
use super::{Result, StoreError};
use crate::model::Release;
use crate::spec::WorkflowSpec;

/// The 63-bit code of a workflow or task: the first 8 bytes of SHA-256 of its path.
pub fn code_for(path: &str) -> i64 {
    let digest = Sha256::digest(path.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) & (i64::MAX as u64)) as i64
}

pub fn workflow_code(project: &str, workflow: &str) -> i64 {
    code_for(&format!("{project}/{workflow}"))
}

pub fn task_code(project: &str, workflow: &str, task: &str) -> i64 {
    code_for(&format!("{project}/{workflow}/{task}"))
}

fn hash_json(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub project: String,
    pub workflow: String,
    pub version: i32,
    pub outcome: ApplyOutcome,
}

/// Store one workflow: a new version when anything changed, nothing when it did not.
/// The project's id, creating the project when it is new.
pub async fn upsert_project(client: &impl Conn, name: &str) -> Result<i64> {
    Ok(client
        .fetch_one(query!("definitions/upsert_project"), &[&name])
        .await?
        .get(0))
}

/// Serializes changes to one workflow (by its code) until the transaction ends.
async fn lock_code(tx: &impl Conn, code: i64) -> Result<()> {
    tx.exec(query!("definitions/lock_code"), &[&code]).await?;
    Ok(())
}

async fn delete_relations(tx: &impl Conn, code: i64) -> Result<()> {
    tx.exec(query!("definitions/delete_relations"), &[&code])
        .await?;
    Ok(())
}

/// Runs inside the caller's transaction so that a multi-document apply is all or nothing.
/// `actor` is recorded on the new version and in the audit trail.
pub async fn apply_workflow(tx: &impl Conn, actor: &str, spec: &WorkflowSpec) -> Result<Applied> {
    apply_workflow_as(tx, actor, "workflow.apply", spec).await
}

/// [`apply_workflow`], audited as `action`.
async fn apply_workflow_as(
    tx: &impl Conn,
    actor: &str,
    action: &str,
    spec: &WorkflowSpec,
) -> Result<Applied> {
    // Every way in (CLI, REST, editor, import) ends here: a tenant the project may not use
    // is refused whatever checked it before.
    if let Some(name) = &spec.tenant {
        let tenant = super::tenants::get(tx, name).await?;
        if let Some(why) = super::tenants::refusal(tenant.as_ref(), name, &spec.project) {
            return Err(StoreError::Invalid(format!(
                "workflow {}/{}: {why}",
                spec.project, spec.name
            )));
        }
    }
    let project_id = upsert_project(tx, &spec.project).await?;
    let code = workflow_code(&spec.project, &spec.name);
    lock_code(tx, code).await?;

    let spec_json = serde_json::to_value(spec).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let spec_hash = hash_json(&spec_json);
    let current = tx
        .fetch_one(query!("definitions/current_workflow"), &[&code])
        .await?;
    let current_hash: Option<String> = current.get(1);
    let highest: Option<i32> = current.get(2);
    let (version, outcome) = match current_hash {
        Some(hash) if hash == spec_hash => {
            return Ok(Applied {
                project: spec.project.clone(),
                workflow: spec.name.clone(),
                version: current.get(0),
                outcome: ApplyOutcome::Unchanged,
            });
        }
        Some(_) => (highest.unwrap_or(0) + 1, ApplyOutcome::Updated),
        // New, or applied again after a delete that kept its versions.
        None => (highest.unwrap_or(0) + 1, ApplyOutcome::Created),
    };

    // Tasks: a new task version only where that task changed. One statement reads every
    // task's current version and one writes the changed ones, whatever the workflow's size.
    let versions = apply_tasks(tx, project_id, spec, &spec_json).await?;

    tx.exec(
        query!("definitions/upsert_workflow"),
        &[
            &code,
            &version,
            &project_id,
            &spec.name,
            &spec.description,
            &spec.release.as_str(),
            &spec_json,
            &spec_hash,
            &actor,
            &spec.retention.map(|r| r.millis as i64),
        ],
    )
    .await?;
    super::audit::record(
        tx,
        actor,
        action,
        Some(&spec.project),
        Some(&spec.name),
        serde_json::json!({"version": version, "outcome": outcome}),
    )
    .await?;

    let (mut pre_codes, mut pre_versions, mut post_codes, mut post_versions) =
        (vec![], vec![], vec![], vec![]);
    let (mut conditions, mut delays) = (vec![], vec![]);
    for task in &spec.tasks {
        let (tcode, tversion) = versions[task.name.as_str()];
        if task.depends_on.is_empty() {
            pre_codes.push(0i64);
            pre_versions.push(0i32);
            post_codes.push(tcode);
            post_versions.push(tversion);
            conditions.push("success".to_string());
            delays.push(0i64);
        }
        for dep in &task.depends_on {
            let (pcode, pversion) = *versions.get(dep.task.as_str()).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "task {} depends on unknown task {}",
                    task.name, dep.task
                ))
            })?;
            pre_codes.push(pcode);
            pre_versions.push(pversion);
            post_codes.push(tcode);
            post_versions.push(tversion);
            conditions.push(dep.on.as_str().to_string());
            delays.push(dep.delay.map(|d| d.millis as i64).unwrap_or(0));
        }
    }
    delete_relations(tx, code).await?;
    tx.exec(
        query!("definitions/insert_relations"),
        &[
            &code,
            &version,
            &pre_codes,
            &pre_versions,
            &post_codes,
            &post_versions,
            &conditions,
            &delays,
        ],
    )
    .await?;
    let schedule = super::schedules::YamlSchedule::from_spec(spec).map_err(StoreError::Invalid)?;
    super::schedules::set_yaml(tx, project_id, code, schedule.as_ref()).await?;
    super::triggers::set(tx, code, spec).await?;
    Ok(Applied {
        project: spec.project.clone(),
        workflow: spec.name.clone(),
        version,
        outcome,
    })
}

/// Stores a new version of each task of `spec` that changed: the `(code, version)` each
/// task's name now stands for. `spec_json` is `spec` as stored, whose `tasks` hold each task's
/// JSON (so a task is serialized once).
async fn apply_tasks<'a>(
    tx: &impl Conn,
    project_id: i64,
    spec: &'a WorkflowSpec,
    spec_json: &serde_json::Value,
) -> Result<HashMap<&'a str, (i64, i32)>> {
    let task_jsons: Vec<serde_json::Value> = match spec_json.get("tasks") {
        Some(serde_json::Value::Array(tasks)) if tasks.len() == spec.tasks.len() => tasks.clone(),
        _ => spec
            .tasks
            .iter()
            .map(serde_json::to_value)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| StoreError::Invalid(e.to_string()))?,
    };
    let codes: Vec<i64> = spec
        .tasks
        .iter()
        .map(|t| task_code(&spec.project, &spec.name, &t.name))
        .collect();
    // code -> (current version, its hash, highest version stored)
    type Current = (Option<i32>, Option<String>, Option<i32>);
    let current: HashMap<i64, Current> = tx
        .fetch(query!("definitions/current_tasks"), &[&codes])
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    let mut versions: HashMap<&str, (i64, i32)> = HashMap::with_capacity(spec.tasks.len());
    let (mut new_codes, mut new_versions, mut names, mut types, mut specs, mut hashes) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for ((task, tcode), task_json) in spec.tasks.iter().zip(&codes).zip(task_jsons) {
        let task_hash = hash_json(&task_json);
        let (tversion, changed) = match current.get(tcode) {
            Some((Some(version), Some(hash), _)) if *hash == task_hash => (*version, false),
            // Changed, or new here with versions left in the log: after the highest.
            Some((_, _, highest)) => (highest.unwrap_or(0) + 1, true),
            None => (1, true),
        };
        if changed {
            new_codes.push(*tcode);
            new_versions.push(tversion);
            names.push(task.name.as_str());
            types.push(task.task_type().as_str());
            specs.push(task_json);
            hashes.push(task_hash);
        }
        versions.insert(task.name.as_str(), (*tcode, tversion));
    }
    if !new_codes.is_empty() {
        tx.exec(
            query!("definitions/upsert_tasks"),
            &[
                &project_id,
                &new_codes,
                &new_versions,
                &names,
                &types,
                &specs,
                &hashes,
            ],
        )
        .await?;
    }
    Ok(versions)
}

/// One stored version of a workflow, with the versions of its tasks (index-aligned with
/// `spec.tasks`). Immutable once written, so masters may cache it.
#[derive(Debug, Clone)]
pub struct WorkflowVersion {
    pub code: i64,
    pub version: i32,
    pub project: String,
    pub spec: WorkflowSpec,
    pub task_codes: Vec<i64>,
    pub task_versions: Vec<i32>,
}

pub async fn load_version(client: &impl Conn, code: i64, version: i32) -> Result<WorkflowVersion> {
    let row = client
        .fetch_opt(query!("definitions/load_version"), &[&code, &version])
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "workflow code {code} version {version} does not exist"
            ))
        })?;
    let project: String = row.get("project");
    let spec: WorkflowSpec = serde_json::from_value(row.get("spec")).map_err(|e| {
        StoreError::Invalid(format!(
            "stored workflow {code} v{version} does not parse: {e}"
        ))
    })?;
    let rows = client
        .fetch(query!("definitions/task_versions"), &[&code, &version])
        .await?;
    let by_code: HashMap<i64, i32> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut task_codes = Vec::with_capacity(spec.tasks.len());
    let mut task_versions = Vec::with_capacity(spec.tasks.len());
    for task in &spec.tasks {
        let tcode = task_code(&project, &spec.name, &task.name);
        let tversion = *by_code.get(&tcode).ok_or_else(|| {
            StoreError::Invalid(format!(
                "workflow {code} v{version}: no relation for task {}",
                task.name
            ))
        })?;
        task_codes.push(tcode);
        task_versions.push(tversion);
    }
    Ok(WorkflowVersion {
        code,
        version,
        project,
        spec,
        task_codes,
        task_versions,
    })
}

/// The current version of `project/workflow`, for starting it.
#[derive(Debug, Clone)]
pub struct CurrentWorkflow {
    pub code: i64,
    pub version: i32,
    pub project_id: i64,
    pub release: Release,
}

pub async fn find_workflow(
    client: &impl Conn,
    project: &str,
    workflow: &str,
) -> Result<Option<CurrentWorkflow>> {
    let row = client
        .fetch_opt(query!("definitions/find_workflow"), &[&project, &workflow])
        .await?;
    Ok(match row {
        None => None,
        Some(row) => Some(CurrentWorkflow {
            code: row.get("code"),
            version: row.get("version"),
            project_id: row.get("project_id"),
            release: row
                .get::<_, String>("release")
                .parse()
                .map_err(|e: crate::model::ParseEnumError| StoreError::Invalid(e.to_string()))?,
        }),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectSummary {
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub workflows: i64,
}

/// The projects `viewer` (a user id; `None` for an admin) may read.
pub async fn list_projects(client: &impl Conn, viewer: Option<i64>) -> Result<Vec<ProjectSummary>> {
    let rows = client
        .fetch(query!("definitions/list_projects"), &[&viewer])
        .await?;
    Ok(rows
        .iter()
        .map(|r| ProjectSummary {
            name: r.get("name"),
            description: r.get("description"),
            created_at: r.get("created_at"),
            workflows: r.get("workflows"),
        })
        .collect())
}

pub async fn project_exists(client: &impl Conn, project: &str) -> Result<bool> {
    Ok(client
        .fetch_opt(query!("definitions/project_exists"), &[&project])
        .await?
        .is_some())
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkflowSummary {
    pub code: String,
    pub project: String,
    pub name: String,
    pub version: i32,
    pub description: String,
    pub release: String,
    pub updated_at: DateTime<Utc>,
    /// The first of its schedules (the YAML one first), if it has any.
    pub schedule: Option<ScheduleBrief>,
    /// How many schedules it has (YAML and API-added).
    pub schedules: i64,
}

/// A schedule in a listing: its expression, zone and whether it is switched on.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleBrief {
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
}

pub async fn list_workflows(client: &impl Conn, project: &str) -> Result<Vec<WorkflowSummary>> {
    let rows = client
        .fetch(query!("definitions/list_workflows"), &[&project])
        .await?;
    Ok(rows
        .iter()
        .map(|r| WorkflowSummary {
            code: r.get::<_, i64>("code").to_string(),
            project: r.get("project"),
            name: r.get("name"),
            version: r.get("version"),
            description: r.get("description"),
            release: r.get("release"),
            updated_at: r.get("updated_at"),
            schedule: r
                .get::<_, Option<String>>("cron")
                .map(|cron| ScheduleBrief {
                    cron,
                    timezone: r.get("timezone"),
                    enabled: r.get("enabled"),
                }),
            schedules: r.get("schedules"),
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionSummary {
    pub version: i32,
    pub spec_hash: String,
    pub created_at: DateTime<Utc>,
    /// Who applied it (the audit trail's actor).
    pub created_by: String,
    pub current: bool,
}

pub async fn list_versions(
    client: &impl Conn,
    project: &str,
    workflow: &str,
) -> Result<Vec<VersionSummary>> {
    let rows = client
        .fetch(query!("definitions/list_versions"), &[&project, &workflow])
        .await?;
    Ok(rows
        .iter()
        .map(|r| VersionSummary {
            version: r.get("version"),
            spec_hash: r.get("spec_hash"),
            created_at: r.get("created_at"),
            created_by: r.get("created_by"),
            current: r.get("current"),
        })
        .collect())
}

/// A stored version's spec (the current one when `version` is None).
pub async fn get_spec(
    client: &impl Conn,
    project: &str,
    workflow: &str,
    version: Option<i32>,
) -> Result<Option<(WorkflowSpec, i32)>> {
    let row = client
        .fetch_opt(
            query!("definitions/get_version_spec"),
            &[&project, &workflow, &version],
        )
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let spec = serde_json::from_value(row.get(0))
                .map_err(|e| StoreError::Invalid(format!("stored workflow does not parse: {e}")))?;
            Ok(Some((spec, row.get(1))))
        }
    }
}

/// Put a workflow online or offline: a new version whose only change is `release` (the
/// same path as `apply` of the document with that line, so versions, export and a later
/// apply agree). Unchanged when it already is.
pub async fn set_release(
    tx: &impl Conn,
    actor: &str,
    project: &str,
    workflow: &str,
    release: Release,
) -> Result<Applied> {
    let (mut spec, _) = get_spec(tx, project, workflow, None)
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("workflow {project}/{workflow} does not exist"))
        })?;
    spec.release = release;
    let action = match release {
        Release::Online => "workflow.online",
        Release::Offline => "workflow.offline",
    };
    apply_workflow_as(tx, actor, action, &spec).await
}

/// What deleting a workflow did.
#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    pub project: String,
    pub workflow: String,
    /// Schedules removed with it (YAML and API-added).
    pub schedules: i64,
    /// Finished instances removed (`--with-history`); without it they stay readable.
    pub instances: i64,
    /// Dependent tasks of other workflows that name it (`P/W task T`): they fail, saying
    /// the workflow does not exist.
    pub dependents: Vec<String>,
}

/// Delete a workflow: refused (a conflict naming them) while instances of it have not
/// ended or are still start commands. Its schedules go with it; its versions and finished
/// instances stay readable unless `with_history`.
/// `actor` is recorded in the audit trail.
pub async fn delete_workflow(
    tx: &impl Conn,
    actor: &str,
    project: &str,
    workflow: &str,
    with_history: bool,
) -> Result<Deleted> {
    let deleted = delete_workflow_unaudited(tx, project, workflow, with_history).await?;
    super::audit::record(
        tx,
        actor,
        "workflow.delete",
        Some(project),
        Some(workflow),
        serde_json::json!({
            "with_history": with_history,
            "schedules": deleted.schedules,
            "instances": deleted.instances,
        }),
    )
    .await?;
    Ok(deleted)
}

async fn delete_workflow_unaudited(
    tx: &impl Conn,
    project: &str,
    workflow: &str,
    with_history: bool,
) -> Result<Deleted> {
    let code = workflow_code(project, workflow);
    lock_code(tx, code).await?;
    let busy: Vec<i64> = tx
        .fetch(
            query!("definitions/busy_instances"),
            &[&code, &project, &workflow],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !busy.is_empty() {
        let ids: Vec<String> = busy.iter().map(|i| i.to_string()).collect();
        return Err(StoreError::Conflict(format!(
            "workflow {project}/{workflow} has instances that have not ended ({}): stop them or wait for them first",
            ids.join(", ")
        )));
    }
    let row = tx
        .fetch_one(query!("definitions/delete_workflow"), &[&code])
        .await?;
    if row.get::<_, i64>("workflows") == 0 {
        return Err(StoreError::NotFound(format!(
            "workflow {project}/{workflow} does not exist"
        )));
    }
    let mut instances = 0;
    if with_history {
        instances = tx
            .fetch_one(
                query!("definitions/delete_instances"),
                &[&code, &project, &workflow],
            )
            .await?
            .get(0);
        tx.exec(query!("definitions/delete_versions"), &[&code])
            .await?;
    }
    let dependents = tx
        .fetch(query!("definitions/dependents"), &[&project, &workflow])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Deleted {
        project: project.to_string(),
        workflow: workflow.to_string(),
        schedules: row.get("schedules"),
        instances,
        dependents,
    })
}

/// Delete a project: every workflow of it (each as [`delete_workflow`], refused while any
/// instance of the project runs), its datasources, and the project — kept, marked deleted,
/// while its finished instances stay readable; removed with them under `with_history`.
/// One audit row says so, naming the workflows.
pub async fn delete_project(
    tx: &impl Conn,
    actor: &str,
    project: &str,
    with_history: bool,
) -> Result<Vec<Deleted>> {
    let rows = tx
        .fetch(query!("definitions/project_workflows"), &[&project])
        .await?;
    let Some(first) = rows.first() else {
        return Err(StoreError::NotFound(format!(
            "project {project} does not exist"
        )));
    };
    let project_id: i64 = first.get(0);
    let mut deleted = Vec::new();
    for row in &rows {
        if let Some(workflow) = row.get::<_, Option<String>>(1) {
            deleted.push(delete_workflow_unaudited(tx, project, &workflow, with_history).await?);
        }
    }
    if with_history {
        tx.exec(
            query!("definitions/delete_project_instances"),
            &[&project_id],
        )
        .await?;
        tx.exec(
            query!("definitions/delete_project_versions"),
            &[&project_id],
        )
        .await?;
    }
    tx.exec(
        query!("definitions/delete_project"),
        &[&project_id, &with_history],
    )
    .await?;
    let workflows: Vec<&str> = deleted.iter().map(|d| d.workflow.as_str()).collect();
    super::audit::record(
        tx,
        actor,
        "project.delete",
        Some(project),
        Some(project),
        serde_json::json!({"with_history": with_history, "workflows": workflows}),
    )
    .await?;
    Ok(deleted)
}

/// Whether the workflow has a current definition (it was not deleted).
pub async fn workflow_exists(client: &impl Conn, code: i64) -> Result<bool> {
    Ok(client
        .fetch_one(query!("definitions/workflow_exists"), &[&code])
        .await?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_positive_and_distinct() {
        let a = workflow_code("demo", "hello");
        assert_eq!(a, workflow_code("demo", "hello"));
        assert!(a > 0);
        assert_ne!(a, workflow_code("demo", "hello2"));
        assert_ne!(
            task_code("demo", "hello", "a"),
            task_code("demo", "hello", "b")
        );
    }
}

/// Apply tenants, datasources, task groups, alert groups and workflows in one transaction: all of
/// them or none. A workflow that names an alert group (`notify.group`, `send_result_to`)
/// that is neither applied here nor stored is refused.
// One slice per document kind, as `apply::Checked` holds them.
#[allow(clippy::too_many_arguments)]
pub async fn apply_documents(
    client: &mut deadpool_postgres::Object,
    actor: &str,
    specs: &[WorkflowSpec],
    groups: &[crate::spec::TaskGroupSpec],
    datasources: &[super::datasources::NewDatasource<'_>],
    alert_groups: &[super::alerts::SealedGroup],
    tenants: &[crate::spec::TenantSpec],
    schedules: &[crate::spec::ScheduleDocSpec],
    values: &super::project_values::ProjectValues<'_>,
) -> Result<Vec<Applied>> {
    let tx = client.transaction().await?;
    for tenant in tenants {
        super::tenants::upsert(&tx, tenant).await?;
        super::audited::tenant_applied(&tx, actor, tenant).await?;
    }
    apply_values(&tx, actor, values).await?;
    for datasource in datasources {
        super::datasources::upsert(&tx, datasource).await?;
        super::audit::record(
            &tx,
            actor,
            "datasource.apply",
            Some(datasource.project),
            Some(datasource.name),
            serde_json::json!({}),
        )
        .await?;
    }
    for group in groups {
        super::task_groups::upsert(&tx, &group.name, group.size as i32).await?;
        super::audit::record(
            &tx,
            actor,
            "task_group.apply",
            None,
            Some(&group.name),
            serde_json::json!({"size": group.size}),
        )
        .await?;
    }
    for group in alert_groups {
        super::alerts::upsert_group(&tx, &group.name, &group.channels, &group.secrets).await?;
        super::audit::record(
            &tx,
            actor,
            "alert_group.apply",
            None,
            Some(&group.name),
            serde_json::json!({}),
        )
        .await?;
    }
    let uses: Vec<(&WorkflowSpec, &str, String)> = specs
        .iter()
        .flat_map(|s| {
            s.alert_group_uses()
                .into_iter()
                .map(move |(g, what)| (s, g, what))
        })
        .collect();
    let names: Vec<String> = uses.iter().map(|(_, g, _)| g.to_string()).collect();
    if !names.is_empty() {
        let missing = super::alerts::missing_groups(&tx, &names).await?;
        if let Some((spec, group, what)) =
            uses.iter().find(|(_, g, _)| missing.iter().any(|m| m == g))
        {
            return Err(StoreError::Invalid(format!(
                "workflow {}/{}: {what} names alert group {group}, which does not exist (define it with a kind: alert_group document)",
                spec.project, spec.name
            )));
        }
    }
    let mut applied = Vec::with_capacity(specs.len());
    for spec in specs {
        applied.push(apply_workflow(&tx, actor, spec).await?);
    }
    // After the workflows: a schedule may be for one applied just now.
    for schedule in schedules {
        apply_schedule(&tx, actor, schedule).await?;
    }
    tx.commit().await?;
    Ok(applied)
}

/// Store project variables and secrets, audited (names only: never a value).
async fn apply_values(
    tx: &impl Conn,
    actor: &str,
    values: &super::project_values::ProjectValues<'_>,
) -> Result<()> {
    for v in values.variables {
        super::project_values::set_variables(tx, &v.project, &v.values).await?;
        super::audit::record(
            tx,
            actor,
            "variables.apply",
            Some(v.project.as_str()),
            None,
            serde_json::json!({ "names": v.values.keys().collect::<Vec<_>>() }),
        )
        .await?;
    }
    for s in values.secrets {
        super::project_values::upsert_secret(tx, s).await?;
        super::audit::record(
            tx,
            actor,
            "secret.apply",
            Some(s.project),
            Some(s.name),
            serde_json::json!({ "value_env": s.value_env }),
        )
        .await?;
    }
    Ok(())
}

/// Apply several workflows in one transaction: all of them or none.
pub async fn apply_all(
    client: &mut deadpool_postgres::Object,
    actor: &str,
    specs: &[WorkflowSpec],
) -> Result<Vec<Applied>> {
    apply_documents(
        client,
        actor,
        specs,
        &[],
        &[],
        &[],
        &[],
        &[],
        &Default::default(),
    )
    .await
}

/// Apply a `kind: schedule` document: when the workflow has that API-added schedule
/// (same expression, zone, window and misfire policy), only its on/off state follows the
/// document; otherwise it is added. Other schedules are left alone.
pub async fn apply_schedule(
    tx: &impl Conn,
    actor: &str,
    doc: &crate::spec::ScheduleDocSpec,
) -> Result<ApplyOutcome> {
    let what = format!(
        "schedule {:?} of {}/{}",
        doc.schedule.cron, doc.project, doc.workflow
    );
    let schedule = super::schedules::YamlSchedule::from_schedule(&doc.schedule)
        .map_err(|e| StoreError::Invalid(format!("{what}: {e}")))?;
    let current = find_workflow(tx, &doc.project, &doc.workflow)
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "{what}: workflow {}/{} does not exist (apply it first, or in the same files)",
                doc.project, doc.workflow
            ))
        })?;
    let outcome = match super::schedules::find_api(tx, current.code, &schedule).await? {
        Some((_, enabled)) if enabled == schedule.enabled => return Ok(ApplyOutcome::Unchanged),
        Some((id, _)) => {
            super::schedules::set_enabled_by_id(tx, id, schedule.enabled).await?;
            ApplyOutcome::Updated
        }
        None => {
            super::schedules::insert_api(tx, current.project_id, current.code, &schedule, None)
                .await?;
            ApplyOutcome::Created
        }
    };
    super::audit::record(
        tx,
        actor,
        "schedule.apply",
        Some(&doc.project),
        Some(&doc.workflow),
        serde_json::json!({"cron": doc.schedule.cron, "enabled": schedule.enabled, "outcome": outcome}),
    )
    .await?;
    Ok(outcome)
}

/// A workflow of a project page: its schedule and its last runs, newest first.
#[derive(Debug, Clone)]
pub struct WorkflowOverview {
    pub name: String,
    pub version: i32,
    pub description: String,
    pub release: String,
    pub updated_at: DateTime<Utc>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub schedule_enabled: Option<bool>,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub runs: Vec<(i64, String)>,
}

pub async fn overview(
    client: &impl Conn,
    project: &str,
    last_runs: i64,
) -> Result<Vec<WorkflowOverview>> {
    let rows = client
        .fetch(query!("definitions/overview"), &[&project, &last_runs])
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let ids: Vec<i64> = r.get("run_ids");
            let states: Vec<String> = r.get("run_states");
            WorkflowOverview {
                name: r.get("name"),
                version: r.get("version"),
                description: r.get("description"),
                release: r.get("release"),
                updated_at: r.get("updated_at"),
                cron: r.get("cron"),
                timezone: r.get("timezone"),
                schedule_enabled: r.get("enabled"),
                next_fire_at: r.get("next_fire_at"),
                runs: ids.into_iter().zip(states).collect(),
            }
        })
        .collect())
}

/// Make stored version `version` of a workflow the current one: its spec, its relations,
/// the task versions it used and its YAML schedule. No version is written; the next apply
/// that changes anything is numbered after the highest stored version.
pub async fn switch_version(
    tx: &impl Conn,
    actor: &str,
    project: &str,
    workflow: &str,
    version: i32,
) -> Result<()> {
    let code = workflow_code(project, workflow);
    lock_code(tx, code).await?;
    let row = tx
        .fetch_opt(query!("definitions/switch_workflow"), &[&code, &version])
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "workflow {project}/{workflow} has no version {version}"
            ))
        })?;
    let project_id: i64 = row.get(0);
    let spec: WorkflowSpec = serde_json::from_value(row.get(1))
        .map_err(|e| StoreError::Invalid(format!("stored version {version}: {e}")))?;
    delete_relations(tx, code).await?;
    tx.exec(query!("definitions/switch_relations"), &[&code, &version])
        .await?;
    tx.exec(query!("definitions/switch_tasks"), &[&code, &version])
        .await?;
    let schedule = super::schedules::YamlSchedule::from_spec(&spec).map_err(StoreError::Invalid)?;
    super::schedules::set_yaml(tx, project_id, code, schedule.as_ref()).await?;
    super::triggers::set(tx, code, &spec).await?;
    super::audit::record(
        tx,
        actor,
        "workflow.switch",
        Some(project),
        Some(workflow),
        serde_json::json!({"version": version}),
    )
    .await
}

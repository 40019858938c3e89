//! REST handlers. One dispatcher matches method and path segments; each handler loads
//! data through `store` and returns JSON. Shapes are DESIGN §6's.

use serde::Deserialize;
use warp::http::{Method, Response, StatusCode};

use super::auth::{self, Principal};
use super::error::ApiError;
use super::{Reply, Request, Settings, percent_decode};
use crate::model::CommandType;
use crate::store::members::{Access, Owned};
use crate::store::{Store, commands, definitions, instances, logs};

fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(value.to_string())
        .expect("a valid response")
}

pub async fn handle(store: &Store, settings: &Settings, request: Request) -> Reply {
    if request.method == Method::GET && request.path == "/metrics" {
        return match metrics(store).await {
            Ok(text) => Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/plain; version=0.0.4")
                .body(text)
                .expect("a valid response"),
            Err(e) => error_reply(e),
        };
    }
    match route(store, settings, &request).await {
        Ok((status, value)) => json(status, &value),
        Err(e) => error_reply(e),
    }
}

/// Prometheus text: this process's counters and the queue depth (no token needed, like
/// `/healthz`).
async fn metrics(store: &Store) -> Result<String, ApiError> {
    let client = store.client().await?;
    let depth = crate::store::queue::depth(&client).await?;
    Ok(crate::metrics::render(&depth))
}

pub fn error_reply(e: ApiError) -> Reply {
    json(e.status, &e.body())
}

/// The caller, who must prove one (401 otherwise); a state-changing request made with the
/// session cookie must carry its CSRF token in the `X-CSRF-Token` header.
async fn authenticate(
    store: &Store,
    settings: &Settings,
    request: &Request,
) -> Result<Principal, ApiError> {
    let principal = auth::principal(store, request, settings.session_ttl)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing Authorization: Bearer <token> header (or a web session cookie)",
            )
        })?;
    if request.method != Method::GET && request.method != Method::HEAD {
        principal.check_csrf(request, None)?;
    }
    Ok(principal)
}

async fn route(
    store: &Store,
    settings: &Settings,
    request: &Request,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let segments: Vec<String> = request
        .path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = &request.method;

    if segments == ["healthz"] && method == Method::GET {
        let client = store.client().await?;
        client
            .query_one("select 1", &[])
            .await
            .map_err(crate::store::StoreError::from)?;
        return Ok((StatusCode::OK, serde_json::json!({"status": "ok"})));
    }
    let ["api", "v1", rest @ ..] = segments.as_slice() else {
        return Err(ApiError::not_found(format!(
            "no route for {}",
            request.path
        )));
    };
    let who = authenticate(store, settings, request).await?;
    let client = store.client().await?;
    let ok = |v: serde_json::Value| Ok((StatusCode::OK, v));
    match (method.clone(), rest) {
        (Method::GET, ["projects"]) => {
            let projects = definitions::list_projects(&client, who.viewer()).await?;
            ok(serde_json::json!({"projects": projects}))
        }
        (Method::GET, ["projects", project]) => {
            who.require_project(&client, project, Access::Read).await?;
            let projects = definitions::list_projects(&client, None).await?;
            let found = projects
                .into_iter()
                .find(|p| p.name == *project)
                .ok_or_else(|| ApiError::not_found(format!("project {project} does not exist")))?;
            ok(serde_json::to_value(found).unwrap_or_default())
        }
        (Method::GET, ["projects", project, "workflows"]) => {
            who.require_project(&client, project, Access::Read).await?;
            let workflows = definitions::list_workflows(&client, project).await?;
            ok(serde_json::json!({"workflows": workflows}))
        }
        (Method::POST, ["projects", project, "workflows"]) => {
            // Applying into a new project creates it: only admins may.
            if definitions::project_exists(&client, project).await? {
                who.require_project(&client, project, Access::Write).await?;
            } else {
                who.require_admin()?;
            }
            drop(client);
            post_workflow(store, request, project).await
        }
        (Method::GET, ["projects", project, "members"]) => {
            who.require_project(&client, project, Access::Read).await?;
            let members = crate::store::members::list(&client, Some(project)).await?;
            ok(serde_json::json!({"members": members}))
        }
        (Method::PUT, ["projects", project, "members", user]) => {
            who.require_admin()?;
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Membership {
                access: String,
            }
            let body: Membership = serde_json::from_slice(&request.body)
                .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
            let access = Access::parse(&body.access).ok_or_else(|| {
                ApiError::unprocessable(format!("access {:?} is not read or write", body.access))
            })?;
            crate::store::members::set(&client, project, user, access).await?;
            ok(serde_json::json!({"project": project, "user": user, "access": access}))
        }
        (Method::DELETE, ["projects", project, "members", user]) => {
            who.require_admin()?;
            if crate::store::members::remove(&client, project, user).await? {
                ok(serde_json::json!({"project": project, "user": user, "removed": true}))
            } else {
                Err(ApiError::not_found(format!(
                    "user {user} is not a member of project {project}"
                )))
            }
        }
        (Method::GET, ["projects", project, "datasources"]) => {
            who.require_project(&client, project, Access::Read).await?;
            let datasources = crate::store::datasources::list(&client, project).await?;
            ok(serde_json::json!({"datasources": datasources}))
        }
        (Method::POST, ["projects", project, "datasources"]) => {
            who.require_project(&client, project, Access::Write).await?;
            drop(client);
            post_datasource(store, request, project).await
        }
        (Method::DELETE, ["projects", project, "datasources", name]) => {
            who.require_project(&client, project, Access::Write).await?;
            if crate::store::datasources::delete(&client, project, name).await? {
                ok(serde_json::json!({"deleted": name}))
            } else {
                Err(ApiError::not_found(format!(
                    "datasource {project}/{name} does not exist"
                )))
            }
        }
        (Method::GET, ["projects", project, "workflows", workflow]) => {
            who.require_project(&client, project, Access::Read).await?;
            let (spec, version) = definitions::get_spec(&client, project, workflow, None)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
                })?;
            ok(
                serde_json::json!({"project": project, "name": workflow, "version": version, "definition": spec}),
            )
        }
        (Method::GET, ["projects", project, "workflows", workflow, "versions"]) => {
            who.require_project(&client, project, Access::Read).await?;
            let versions = definitions::list_versions(&client, project, workflow).await?;
            if versions.is_empty() {
                return Err(ApiError::not_found(format!(
                    "workflow {project}/{workflow} does not exist"
                )));
            }
            ok(serde_json::json!({"versions": versions}))
        }
        (
            Method::GET,
            [
                "projects",
                project,
                "workflows",
                workflow,
                "versions",
                version,
            ],
        ) => {
            who.require_project(&client, project, Access::Read).await?;
            let number: i32 = version.parse().map_err(|_| {
                ApiError::bad_request(format!("version {version:?} is not a number"))
            })?;
            let (spec, version) = definitions::get_spec(&client, project, workflow, Some(number))
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "workflow {project}/{workflow} has no version {number}"
                    ))
                })?;
            ok(
                serde_json::json!({"project": project, "name": workflow, "version": version, "definition": spec}),
            )
        }
        (
            Method::POST,
            [
                "projects",
                project,
                "workflows",
                workflow,
                "versions",
                version,
                "switch",
            ],
        ) => {
            who.require_project(&client, project, Access::Write).await?;
            let number: i32 = version.parse().map_err(|_| {
                ApiError::bad_request(format!("version {version:?} is not a number"))
            })?;
            let mut client = client;
            let tx = client
                .transaction()
                .await
                .map_err(crate::store::StoreError::from)?;
            definitions::switch_version(&tx, project, workflow, number).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)?;
            ok(serde_json::json!({"project": project, "name": workflow, "version": number}))
        }
        (Method::POST, ["projects", project, "workflows", workflow, "runs"]) => {
            who.require_project(&client, project, Access::Write).await?;
            let mut client = client;
            start_run(&mut client, request, project, workflow).await
        }
        (Method::GET, ["cron", "preview"]) => {
            let q = request.query_map();
            let expr = q
                .get("expr")
                .ok_or_else(|| ApiError::bad_request("expr is required"))?;
            let tz = q.get("tz").map(String::as_str).unwrap_or("UTC");
            let count = match q.get("count") {
                None => 10,
                Some(c) => c
                    .parse::<usize>()
                    .ok()
                    .filter(|c| (1..=1000).contains(c))
                    .ok_or_else(|| {
                        ApiError::bad_request("count must be a number from 1 to 1000")
                    })?,
            };
            let times = crate::cron::preview(expr, tz, q.get("from").map(String::as_str), count)
                .map_err(ApiError::bad_request)?;
            ok(serde_json::json!({ "times": times }))
        }
        (Method::GET, ["schedules"]) => {
            let q = request.query_map();
            let list = crate::store::schedules::list(
                &client,
                q.get("project").map(String::as_str),
                who.viewer(),
            )
            .await?;
            ok(serde_json::json!({ "schedules": list }))
        }
        (Method::GET, ["task-groups"]) => {
            let list = crate::store::task_groups::list(&client).await?;
            ok(serde_json::json!({ "task_groups": list }))
        }
        (Method::PUT, ["task-groups", name]) => {
            // Task groups are shared by every project.
            who.require_admin()?;
            if let Some(problem) = crate::spec::name_problem(name) {
                return Err(ApiError::bad_request(format!("task group name: {problem}")));
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Size {
                size: i32,
            }
            let body: Size = serde_json::from_slice(&request.body)
                .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
            if body.size < 1 {
                return Err(ApiError::unprocessable("size must be at least 1"));
            }
            crate::store::task_groups::upsert(&client, name, body.size).await?;
            ok(serde_json::json!({ "name": name, "size": body.size }))
        }
        (Method::POST, ["schedules"]) => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct NewSchedule {
                project: String,
                workflow: String,
                cron: String,
                #[serde(default)]
                timezone: Option<String>,
                #[serde(default)]
                start: Option<String>,
                #[serde(default)]
                end: Option<String>,
                #[serde(default)]
                misfire: Option<String>,
                #[serde(default)]
                enabled: Option<bool>,
            }
            let body: NewSchedule = serde_json::from_slice(&request.body)
                .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
            who.require_project(&client, &body.project, Access::Write)
                .await?;
            let timezone = body.timezone.unwrap_or_else(|| "UTC".into());
            let tz: chrono_tz::Tz = crate::cron::parse_zone(&timezone)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            crate::cron::Schedule::new(&body.cron, &timezone)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            let misfire = body.misfire.unwrap_or_else(|| "fire_once".into());
            if misfire != "fire_once" && misfire != "skip" {
                return Err(ApiError::unprocessable(format!(
                    "misfire {misfire:?} is not fire_once or skip"
                )));
            }
            let bound = |text: &Option<String>| -> Result<_, ApiError> {
                text.as_deref()
                    .map(|t| crate::store::schedules::parse_bound(t, tz))
                    .transpose()
                    .map_err(ApiError::unprocessable)
            };
            let schedule = crate::store::schedules::YamlSchedule {
                cron: body.cron,
                timezone,
                start_at: bound(&body.start)?,
                end_at: bound(&body.end)?,
                misfire,
                enabled: body.enabled.unwrap_or(true),
            };
            let current = definitions::find_workflow(&client, &body.project, &body.workflow)
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "workflow {}/{} does not exist",
                        body.project, body.workflow
                    ))
                })?;
            let id = crate::store::schedules::insert_api(
                &client,
                current.project_id,
                current.code,
                &schedule,
            )
            .await?;
            Ok((StatusCode::CREATED, serde_json::json!({ "id": id })))
        }
        (Method::DELETE, ["schedules", id]) => {
            let id = parse_id(id)?;
            who.require_owner(&client, Owned::Schedule(id), Access::Write)
                .await?;
            if crate::store::schedules::delete_api(&client, id).await? {
                ok(serde_json::json!({ "deleted": id }))
            } else {
                Err(ApiError::not_found(format!(
                    "schedule {id} does not exist or comes from YAML (change the YAML instead)"
                )))
            }
        }
        (Method::GET, ["alerts"]) => {
            super::alerts::list(&client, &request.query_map(), who.viewer()).await
        }
        (Method::GET, ["alert-groups"]) => super::alerts::list_groups(&client).await,
        (Method::PUT, ["alert-groups", name]) => {
            // Alert groups are shared by every project.
            who.require_admin()?;
            super::alerts::put_group(&client, name, &request.body).await
        }
        (Method::GET, ["servers"]) => {
            let list = crate::store::servers::list(&client).await?;
            ok(serde_json::json!({ "servers": list }))
        }
        (Method::GET, ["instances"]) => {
            let q = request.query_map();
            let limit = match q.get("limit") {
                None => 50,
                Some(l) => l
                    .parse::<i64>()
                    .ok()
                    .filter(|l| (1..=1000).contains(l))
                    .ok_or_else(|| {
                        ApiError::bad_request("limit must be a number from 1 to 1000")
                    })?,
            };
            let before_id = match q.get("before") {
                None => None,
                Some(b) => Some(
                    b.parse::<i64>()
                        .map_err(|_| ApiError::bad_request("before must be an instance id"))?,
                ),
            };
            if let Some(state) = q.get("state") {
                state
                    .parse::<crate::model::WorkflowState>()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            let filter = instances::InstanceFilter {
                project: q.get("project").cloned(),
                workflow: q.get("workflow").cloned(),
                state: q.get("state").cloned(),
                before_id,
                limit,
                viewer: who.viewer(),
                created_from: None,
                created_before: None,
            };
            let list = instances::list(&client, &filter).await?;
            ok(serde_json::json!({"instances": list}))
        }
        (Method::GET, ["instances", id]) => {
            let id = parse_id(id)?;
            require_instance(&who, &client, id, Access::Read).await?;
            match instances::get(&client, id).await? {
                Some(detail) => ok(serde_json::to_value(detail).unwrap_or_default()),
                None => Err(missing_instance(&client, id).await),
            }
        }
        (Method::POST, ["instances", id, action]) => {
            let id = parse_id(id)?;
            let kind = CommandType::from_action(action).ok_or_else(|| {
                ApiError::not_found(format!(
                    "no action {action} (pause, resume, stop, rerun, start-failed)"
                ))
            })?;
            require_instance(&who, &client, id, Access::Write).await?;
            let command = commands::insert_control(&client, kind, id).await?;
            Ok((
                StatusCode::ACCEPTED,
                serde_json::json!({"instance_id": id, "command_id": command, "command_type": kind.as_str()}),
            ))
        }
        (Method::GET, ["backfills", id]) => {
            let id = parse_id(id)?;
            who.require_owner(&client, Owned::Backfill(id), Access::Read)
                .await?;
            match crate::store::backfills::get(&client, id).await? {
                Some(b) => ok(b),
                None => Err(ApiError::not_found(format!("backfill {id} does not exist"))),
            }
        }
        (Method::POST, ["backfills", id, "cancel"]) => {
            let id = parse_id(id)?;
            who.require_owner(&client, Owned::Backfill(id), Access::Write)
                .await?;
            let mut client = client;
            let tx = client
                .transaction()
                .await
                .map_err(crate::store::StoreError::from)?;
            crate::store::backfills::cancel(&tx, id).await?;
            tx.commit().await.map_err(crate::store::StoreError::from)?;
            Ok((
                StatusCode::ACCEPTED,
                serde_json::json!({"backfill_id": id, "state": "cancelled"}),
            ))
        }
        (Method::GET, ["instances", id, "tasks"]) => {
            let id = parse_id(id)?;
            require_instance(&who, &client, id, Access::Read).await?;
            let tasks = instances::get_tasks(&client, id).await?;
            ok(serde_json::json!({"tasks": tasks}))
        }
        (Method::POST, ["task-instances", id, "force-success"]) => {
            let id = parse_id(id)?;
            who.require_owner(&client, Owned::TaskInstance(id), Access::Write)
                .await?;
            let (instance, _) = instances::task_owner(&client, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("task instance {id} does not exist")))?;
            let command = commands::insert_force_success(&client, instance, id).await?;
            Ok((
                StatusCode::ACCEPTED,
                serde_json::json!({"instance_id": instance, "task_instance_id": id, "command_id": command}),
            ))
        }
        (Method::GET, ["task-instances", id, "log"]) => {
            let id = parse_id(id)?;
            who.require_owner(&client, Owned::TaskInstance(id), Access::Read)
                .await?;
            let q = request.query_map();
            let after = match q.get("after") {
                None => 0,
                Some(a) => a.parse::<i32>().ok().filter(|a| *a >= 0).ok_or_else(|| {
                    ApiError::bad_request(format!("after={a} is not a sequence number"))
                })?,
            };
            let page = logs::read(&client, id, after, logs::DEFAULT_PAGE_CHUNKS).await?;
            ok(serde_json::to_value(page).unwrap_or_default())
        }
        _ => Err(ApiError::not_found(format!(
            "no route for {} {}",
            request.method, request.path
        ))),
    }
}

fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("{text:?} is not an id")))
}

/// The caller may read (write) the instance's project. An instance not created yet
/// answers a 404 (or 422) that says why.
async fn require_instance(
    who: &Principal,
    client: &deadpool_postgres::Object,
    id: i64,
    needed: Access,
) -> Result<(), ApiError> {
    match crate::store::members::project_of(client, Owned::Instance(id)).await? {
        Some(project) => who.require_project(client, &project, needed).await,
        None => Err(missing_instance(client, id).await),
    }
}

/// A 404 that says why: the start command may still be pending or may have failed.
async fn missing_instance(client: &deadpool_postgres::Object, id: i64) -> ApiError {
    match commands::state_for_instance(client, id).await {
        Ok(Some((state, error))) if state == "failed" => ApiError::unprocessable(format!(
            "the command for instance {id} failed: {}",
            error.unwrap_or_default()
        )),
        Ok(Some(_)) => ApiError::not_found(format!(
            "instance {id} is not created yet (its command is pending)"
        )),
        _ => ApiError::not_found(format!("instance {id} does not exist")),
    }
}

/// The body of `POST .../runs`, and what the web admin's run dialog submits.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub start_nodes: Option<Vec<String>>,
    #[serde(default)]
    pub backfill: Option<serde_json::Value>,
    /// This run's priority instead of the workflow's.
    #[serde(default)]
    pub priority: Option<String>,
    /// This run's failure strategy instead of the workflow's.
    #[serde(default)]
    pub failure_strategy: Option<String>,
    /// This run's worker group instead of the workflow's (tasks naming their own keep it).
    #[serde(default)]
    pub worker_group: Option<String>,
}

impl RunBody {
    /// The execution options, checked (422 names a bad one).
    fn overrides(&self) -> Result<crate::model::RunOverrides, ApiError> {
        let options = serde_json::json!({
            "priority": self.priority,
            "failure_strategy": self.failure_strategy,
            "worker_group": self.worker_group,
        });
        crate::model::RunOverrides::from_options(&options)
            .map_err(|e| ApiError::unprocessable(e.replacen("options.", "", 1)))
    }
}

async fn start_run(
    client: &mut deadpool_postgres::Object,
    request: &Request,
    project: &str,
    workflow: &str,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let body: RunBody = if request.body.iter().all(u8::is_ascii_whitespace) {
        RunBody::default()
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?
    };
    let (instance_ids, backfill_id) = start(client, project, workflow, body).await?;
    let mut answer = serde_json::json!({ "instance_ids": instance_ids });
    if let Some(id) = backfill_id {
        answer["backfill_id"] = id.into();
    }
    Ok((StatusCode::CREATED, answer))
}

/// Start a run (one instance) or a backfill (one instance per date, created up front):
/// the instance ids in date order, and the backfill's id.
pub async fn start(
    client: &mut deadpool_postgres::Object,
    project: &str,
    workflow: &str,
    body: RunBody,
) -> Result<(Vec<i64>, Option<i64>), ApiError> {
    let overrides = body.overrides()?;
    if let Some(nodes) = &body.start_nodes {
        if nodes.is_empty() {
            return Err(ApiError::unprocessable("start_nodes is empty"));
        }
        if body.backfill.is_some() {
            return Err(ApiError::unprocessable(
                "start_nodes and backfill do not go together",
            ));
        }
        let (spec, _) = definitions::get_spec(&*client, project, workflow, None)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
            })?;
        if let Some(unknown) = nodes
            .iter()
            .find(|n| !spec.tasks.iter().any(|t| &t.name == *n))
        {
            return Err(ApiError::unprocessable(format!(
                "start node {unknown} is not a task of {project}/{workflow}"
            )));
        }
    }
    if let Some(backfill) = &body.backfill {
        let mut request =
            backfill_request(backfill, serde_json::Value::Object(body.params.clone()))?;
        request.options = overrides.to_options();
        let tx = client
            .transaction()
            .await
            .map_err(crate::store::StoreError::from)?;
        let (backfill_id, instance_ids) =
            crate::store::backfills::start(&tx, project, workflow, &request).await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        return Ok((instance_ids, Some(backfill_id)));
    }
    let current = definitions::find_workflow(&*client, project, workflow)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow {project}/{workflow} does not exist"))
        })?;
    if current.release == crate::model::Release::Offline {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offline",
            format!("workflow {project}/{workflow} is offline"),
        ));
    }
    let params = serde_json::Value::Object(body.params);
    let mut options = overrides.to_options();
    if let Some(nodes) = &body.start_nodes {
        options.insert("start_nodes".into(), serde_json::json!(nodes));
    }
    let options = serde_json::Value::Object(options);
    let (_, instance_id) = commands::insert(
        &*client,
        CommandType::Start,
        Some(project),
        Some(workflow),
        &params,
        &options,
        None,
    )
    .await?;
    Ok((vec![instance_id], None))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    dates: Option<Vec<chrono::NaiveDate>>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    parallelism: Option<i32>,
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    stop_on_failure: bool,
}

fn backfill_request(
    value: &serde_json::Value,
    params: serde_json::Value,
) -> Result<crate::cron::backfill::Request, ApiError> {
    let body: BackfillBody = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::bad_request(format!("backfill: {e}")))?;
    let span = match (body.from, body.to, body.dates) {
        (Some(from), Some(to), None) => crate::cron::backfill::Span::Range { from, to },
        (None, None, Some(dates)) => crate::cron::backfill::Span::Dates(dates),
        _ => {
            return Err(ApiError::bad_request(
                "backfill needs either from and to, or dates",
            ));
        }
    };
    let serial = match body.mode.as_deref() {
        None | Some("serial") => true,
        Some("parallel") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "backfill mode {other:?} is not serial or parallel"
            )));
        }
    };
    let descending = match body.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "backfill order {other:?} is not asc or desc"
            )));
        }
    };
    Ok(crate::cron::backfill::Request {
        span,
        serial,
        parallelism: body.parallelism.unwrap_or(1),
        descending,
        stop_on_failure: body.stop_on_failure,
        params,
        options: Default::default(),
    })
}

async fn post_workflow(
    store: &Store,
    request: &Request,
    project: &str,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let text = std::str::from_utf8(&request.body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let is_json = request
        .header("content-type")
        .is_some_and(|c| c.contains("json"));
    let specs = if is_json {
        let spec = crate::spec::parse_workflow_json("request", text).map_err(spec_errors)?;
        let document = crate::spec::Document::Workflow(spec.clone());
        let mut errors = crate::spec::unavailable_features("request", &document);
        for (pos, message) in crate::tasks::validate_document(&document) {
            errors.push(crate::spec::SpecError {
                file: "request".into(),
                line: pos.line,
                column: pos.column,
                message,
            });
        }
        if !errors.is_empty() {
            return Err(spec_errors(errors));
        }
        vec![spec]
    } else {
        crate::apply::check_text("request", text).map_err(spec_errors)?
    };
    if specs.is_empty() {
        return Err(ApiError::unprocessable("the body holds no workflow"));
    }
    if let Some(other) = specs.iter().find(|s| s.project != project) {
        return Err(ApiError::unprocessable(format!(
            "workflow {} belongs to project {}, not {project}",
            other.name, other.project
        )));
    }
    let mut client = store.client().await?;
    let applied = definitions::apply_all(&mut client, &specs).await?;
    let status = if applied
        .iter()
        .any(|a| a.outcome == definitions::ApplyOutcome::Created)
    {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, serde_json::json!({"applied": applied})))
}

/// `POST /projects/{p}/datasources`: one `kind: datasource` document (YAML or its JSON
/// equivalent, which YAML reads too); a `password` is encrypted with this process's
/// `PGDAG_SECRET_KEY` and never answered back.
async fn post_datasource(
    store: &Store,
    request: &Request,
    project: &str,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let text = std::str::from_utf8(&request.body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let checked = crate::apply::check_documents("request", text).map_err(spec_errors)?;
    if checked.single_kind() != Some("datasource") {
        return Err(ApiError::unprocessable(
            "the body must hold exactly one document of kind datasource",
        ));
    }
    let datasource = &checked.datasources[0];
    if datasource.project != project {
        return Err(ApiError::unprocessable(format!(
            "datasource {} belongs to project {}, not {project}",
            datasource.name, datasource.project
        )));
    }
    let key = crate::secret::SecretKey::from_env().map_err(ApiError::unprocessable)?;
    let sealed = checked
        .sealed_datasources(key.as_ref())
        .map_err(ApiError::unprocessable)?;
    let client = store.client().await?;
    let created = crate::store::datasources::upsert(&client, &sealed[0]).await?;
    let summary = crate::store::datasources::list(&client, project)
        .await?
        .into_iter()
        .find(|d| d.name == datasource.name);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, serde_json::json!({"datasource": summary})))
}

fn spec_errors(errors: Vec<crate::spec::SpecError>) -> ApiError {
    let message = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    ApiError::unprocessable(message)
}

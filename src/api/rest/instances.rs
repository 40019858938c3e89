//! `/api/v1/instances`: workflow instances, their tasks, and control commands on them.

use warp::http::StatusCode;

use super::query::Query;
use super::{Answer, Ctx, ok, parse_id};
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::store::members::{self, Access, Owned};
use crate::store::{commands, instances};

/// `GET /instances?project=&workflow=&state=&before=&limit=`: newest first.
pub(super) async fn list(ctx: Ctx<'_>) -> Answer {
    let q = Query::of(ctx.request);
    let page = q.paging()?;
    if let Some(state) = q.get("state") {
        state
            .parse::<crate::model::WorkflowState>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    let filter = instances::InstanceFilter {
        project: q.get("project").map(Into::into),
        workflow: q.get("workflow").map(Into::into),
        state: q.get("state").map(Into::into),
        before_id: page.before,
        limit: page.limit,
        viewer: ctx.who.viewer(),
        created_from: None,
        created_before: None,
    };
    let list = instances::list(&ctx.client, &filter).await?;
    ok(super::listing::instances(&list))
}

pub(super) async fn get(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    require_instance(&ctx.who, &ctx.client, id, Access::Read).await?;
    match instances::get(&ctx.client, id).await? {
        Some(detail) => ok(serde_json::to_value(detail).unwrap_or_default()),
        None => Err(missing_instance(&ctx.who, &ctx.client, id).await),
    }
}

/// Tasks in a page when the caller does not say: an instance may have 10,000.
const TASK_PAGE: i64 = 100;

/// `GET /instances/{id}/tasks?state=&after=&limit=`: a page of the instance's tasks in id
/// order, with `next`, the `after` of the following page (null on the last one).
pub(super) async fn tasks(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    let q = Query::of(ctx.request);
    let limit = q.limit("limit", TASK_PAGE)?;
    let filter = instances::TaskPageFilter {
        states: task_states(q.get("state"))?,
        name_prefix: String::new(),
        after: q.id("after")?,
        // One more than the page tells whether another follows.
        limit: limit + 1,
    };
    require_instance(&ctx.who, &ctx.client, id, Access::Read).await?;
    let mut tasks = instances::task_page(&ctx.client, id, &filter).await?;
    let next = (tasks.len() as i64 > limit).then(|| {
        tasks.truncate(limit as usize);
        tasks.last().map(|t| t.id)
    });
    ok(serde_json::json!({"tasks": tasks, "next": next.flatten()}))
}

/// `state=` as a list of task states (one, or several separated by commas); empty: any.
pub(crate) fn task_states(text: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|s| {
            s.trim()
                .parse::<crate::model::TaskState>()
                .map(|state| state.as_str().to_string())
                .map_err(|e| ApiError::bad_request(format!("state: {e}")))
        })
        .collect()
}

/// `POST /instances/{id}/{pause|resume|stop|rerun|start-failed}`: queues the command.
pub(super) async fn control(ctx: Ctx<'_>, id: &str, action: &str) -> Answer {
    let id = parse_id(id)?;
    let kind = crate::model::CommandType::from_action(action).ok_or_else(|| {
        ApiError::not_found(format!(
            "no action {action} (pause, resume, stop, rerun, start-failed)"
        ))
    })?;
    require_instance(&ctx.who, &ctx.client, id, Access::Write).await?;
    if crate::api::references::starts_tasks(kind) {
        crate::api::references::require_for_instance(&ctx.who, &ctx.client, id).await?;
    }
    let command = commands::insert_control(&ctx.client, &ctx.who.actor(), kind, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        serde_json::json!({"instance_id": id, "command_id": command, "command_type": kind.as_str()}),
    ))
}

/// The caller may read (write) the instance's project. An instance not created yet
/// answers a 404 (or 422) that says why.
async fn require_instance(
    who: &Principal,
    client: &deadpool_postgres::Object,
    id: i64,
    needed: Access,
) -> Result<(), ApiError> {
    match members::project_of(client, Owned::Instance(id)).await? {
        Some(project) => match who.require_project(client, &project, needed).await {
            Err(e) if e.status == warp::http::StatusCode::NOT_FOUND => {
                Err(ApiError::not_found(format!("instance {id} does not exist")))
            }
            other => other,
        },
        None => Err(missing_instance(who, client, id).await),
    }
}

/// A 404 that says why — the start command may still be pending or may have failed — to
/// a caller who may read the command's project; to anyone else a plain 404, the same as for
/// an id nobody ever used (a start's error names the project's workflows and parameters).
async fn missing_instance(
    who: &Principal,
    client: &deadpool_postgres::Object,
    id: i64,
) -> ApiError {
    let plain = ApiError::not_found(format!("instance {id} does not exist"));
    let Ok(Some((state, error, project))) = commands::state_for_instance(client, id).await else {
        return plain;
    };
    let may_read = match project {
        Some(p) => who.require_project(client, &p, Access::Read).await.is_ok(),
        None => who.user.is_admin,
    };
    if !may_read {
        return plain;
    }
    if state == "failed" {
        ApiError::unprocessable(format!(
            "the command for instance {id} failed: {}",
            error.unwrap_or_default()
        ))
    } else {
        ApiError::not_found(format!(
            "instance {id} is not created yet (its command is pending)"
        ))
    }
}

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
    ok(serde_json::json!({"instances": list}))
}

pub(super) async fn get(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    require_instance(&ctx.who, &ctx.client, id, Access::Read).await?;
    match instances::get(&ctx.client, id).await? {
        Some(detail) => ok(serde_json::to_value(detail).unwrap_or_default()),
        None => Err(missing_instance(&ctx.client, id).await),
    }
}

pub(super) async fn tasks(ctx: Ctx<'_>, id: &str) -> Answer {
    let id = parse_id(id)?;
    require_instance(&ctx.who, &ctx.client, id, Access::Read).await?;
    let tasks = instances::get_tasks(&ctx.client, id).await?;
    ok(serde_json::json!({"tasks": tasks}))
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
    let command = commands::insert_control(&ctx.client, kind, id).await?;
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
